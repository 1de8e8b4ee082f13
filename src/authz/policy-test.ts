import fs from 'node:fs/promises'
import path from 'node:path'
import YAML from 'yaml'
import { z } from 'zod'
import { badRequest } from '../errors.ts'
import type { EnginePort } from './port.ts'
import { parsePolicyCsv } from './policy-csv.ts'
import { resolveModel } from './stores.ts'
import { storeOptions } from './options.ts'

/**
 * Policies as code: a file with a model, a policy and a table of expected decisions, run
 * against the same engine the server uses — no server, no database — so teams can test a
 * policy change in their own CI before `portcullis policy apply`.
 */
export const policyTestFile = z
  .object({
    name: z.string().optional(),
    model: z.string().min(1),
    /** CSV text; or policy_file: a path relative to this file */
    policy: z.string().optional(),
    policy_file: z.string().optional(),
    options: storeOptions.optional(),
    description: z.string().optional(),
    cases: z
      .array(
        z
          .object({
            request: z.array(z.unknown()).min(1),
            expect: z.enum(['allow', 'deny']),
            name: z.string().optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict()
export type PolicyTestFile = z.infer<typeof policyTestFile>

export async function readPolicyFile(file: string): Promise<PolicyTestFile & { policyText: string }> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw badRequest('unreadable', `cannot read ${file}: ${(e as Error).message}`)
  }
  let value: unknown
  try {
    value = YAML.parse(text)
  } catch (e) {
    throw badRequest('invalid_file', `${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`)
  }
  const parsed = policyTestFile.safeParse(value)
  if (!parsed.success)
    throw badRequest(
      'invalid_file',
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    )
  const doc = parsed.data
  // A model given as a path next to the test file is read from there; else policies/ or text.
  const modelPath = path.resolve(path.dirname(file), doc.model)
  const model =
    doc.model.endsWith('.conf') && (await fs.stat(modelPath).catch(() => null))
      ? await fs.readFile(modelPath, 'utf8')
      : doc.model
  const policyText = doc.policy_file
    ? await fs.readFile(path.resolve(path.dirname(file), doc.policy_file), 'utf8')
    : (doc.policy ?? '')
  return { ...doc, model, policyText }
}

export interface PolicyTestResult {
  passed: number
  failures: { name: string; request: unknown[]; expected: string; got: string }[]
}

export async function runPolicyTests(
  engine: EnginePort,
  doc: Awaited<ReturnType<typeof readPolicyFile>>,
): Promise<PolicyTestResult> {
  const { lines, problems } = parsePolicyCsv(doc.policyText)
  if (problems.length)
    throw badRequest('invalid_policy', problems.map((p) => `policy line ${p.line}: ${p.message}`).join('; '))
  const input = { modelText: await resolveModel(doc.model), lines, options: doc.options ?? {} }
  const invalid = await engine.validate(input)
  if (invalid.length) throw badRequest('invalid_policy', invalid.join('; '))
  const e = await engine.build(input)
  const result: PolicyTestResult = { passed: 0, failures: [] }
  doc.cases.forEach((c, i) => {
    const got = e.check(c.request).allowed ? 'allow' : 'deny'
    if (got === c.expect) result.passed++
    else result.failures.push({ name: c.name ?? `case ${i + 1}`, request: c.request, expected: c.expect, got })
  })
  return result
}

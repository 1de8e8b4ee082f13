import fs from 'node:fs'
import path from 'node:path'
import { parsePolicyCsv } from '../../../src/authz/policy-csv.ts'
import type { EngineOptions, StoreInput } from '../../../src/authz/engine/index.ts'

/**
 * The upstream Casbin cases, read from ../shared/conformance (never copied into the project, so
 * the project stays checked against the source).
 */
export const CASES_FILE = path.resolve(import.meta.dirname, '../../../../shared/conformance/casbin-cases.json')

export interface ConformanceCase {
  request: unknown[]
  expected: boolean
  node_casbin_5_51_1: boolean | string
  node_casbin_agrees: boolean
}

export interface ConformanceModel {
  id: string
  model_conf: string
  policy_csv: string
  setup: EngineOptions
  cases: ConformanceCase[]
}

interface CasesFile {
  meta: { total_cases: number; node_casbin_agreeing: number }
  models: Record<string, ConformanceModel>
  function_vectors: Record<
    string,
    { args: [string, string]; expected: boolean; node_casbin_5_51_1: boolean | string }[]
  >
}

export const cases = JSON.parse(fs.readFileSync(CASES_FILE, 'utf8')) as CasesFile

/** A conformance model as a store, its policy CSV parsed the way the server parses stored CSV. */
export function storeOf(m: ConformanceModel): StoreInput {
  const { lines, problems } = parsePolicyCsv(m.policy_csv)
  if (problems.length) throw new Error(`${m.id}: policy CSV problems ${JSON.stringify(problems)}`)
  return { modelText: m.model_conf, policyLines: lines, options: m.setup }
}

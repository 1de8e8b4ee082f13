import { AppError } from '../errors.ts'
import type { EnginePort } from './port.ts'
import { readPolicyFile, runPolicyTests } from './policy-test.ts'
import type { PolicyStores } from './stores.ts'

/** What `portcullis policy apply` needs of the running server (the container has this shape). */
export interface PolicyApplyDeps {
  authz: { engine: EnginePort; stores: Pick<PolicyStores, 'apply'> }
}

const out = (s: string) => process.stdout.write(s)

/** `portcullis policy test FILE...`: exit 1 on any mismatch, without a server or database. */
export async function policyTestCommand(engine: EnginePort, files: string[]): Promise<number> {
  if (!files.length) throw new AppError('usage', 'policy test needs at least one FILE', { status: 400 })
  let failed = 0
  for (const file of files) {
    const doc = await readPolicyFile(file)
    const r = await runPolicyTests(engine, doc)
    for (const f of r.failures)
      out(`FAIL ${file}: ${f.name}: ${JSON.stringify(f.request)} expected ${f.expected}, got ${f.got}\n`)
    out(`${r.failures.length ? 'FAIL' : 'ok  '} ${file}: ${r.passed} passed, ${r.failures.length} failed\n`)
    failed += r.failures.length
  }
  return failed ? 1 : 0
}

/** `portcullis policy apply FILE [--reason TEXT]`: commits the file's store as a new version. */
export async function policyApplyCommand(
  c: PolicyApplyDeps,
  file: string | undefined,
  reason?: string,
): Promise<number> {
  if (!file) throw new AppError('usage', 'policy apply needs a FILE', { status: 400 })
  const doc = await readPolicyFile(file)
  if (!doc.name)
    throw new AppError('usage', `${file} has no name: which policy store should it be applied to?`, { status: 400 })
  // The cases in the file must pass before anything is committed.
  const tests = await runPolicyTests(c.authz.engine, doc)
  if (tests.failures.length) {
    for (const f of tests.failures)
      out(`FAIL ${f.name}: ${JSON.stringify(f.request)} expected ${f.expected}, got ${f.got}\n`)
    out(`not applied: ${tests.failures.length} case(s) failed\n`)
    return 1
  }
  const r = await c.authz.stores.apply(
    { name: doc.name, model: doc.model, policy: doc.policyText, options: doc.options, description: doc.description },
    'cli',
    reason ?? `policy apply ${file}`,
  )
  out(
    r.changed
      ? `policy store ${doc.name}: committed version ${r.version}\n`
      : `policy store ${doc.name}: unchanged (version ${r.version})\n`,
  )
  return 0
}

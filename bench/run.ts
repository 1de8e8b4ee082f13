/**
 * `npm run bench`: the benchmarks in bench/, one after the other, each in its own process, with
 * small default sizes so that the whole run takes a few minutes on a shared 2-core machine.
 *
 *   npm run bench                              all of them, small sizes
 *   npm run bench -- cli-startup authz-engine  only these (names below)
 *   npm run bench -- --full                    each script's own (larger) defaults
 *   npm run bench -- --smoke                   each script that has one, shortest form, SQLite only,
 *                                              nothing written (CI)
 *
 * Each script writes its own results (bench/results/*.json; cli-startup also its section of
 * bench/RESULTS.md). apikeys-verify, oidc-token, sign-in and footprint also run on PostgreSQL +
 * Redis, and workers only there, when TEST_DATABASE_URL and TEST_REDIS_URL are set. A full run
 * builds dist/ first, so servers start from compiled code as in production.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { parseArgs } from 'node:util'

/** name -> arguments for a short run */
const BENCHES: Record<string, string[]> = {
  'cli-startup': ['--runs', '3'],
  'authz-engine': ['--sizes', '10000', '--fast', '50000', '--plain-seconds', '1'],
  'authz-search': ['--sizes', '10000,100000', '--queries', '5', '--plain-seconds', '5'],
  'apikeys-verify': ['--seconds', '1'],
  'authz-http': ['--lines', '10000', '--seconds', '2'],
  'constant-time': ['--rounds', '20000'],
  'oidc-token': ['--seconds', '2', '--rounds', '2'],
  'sign-in': ['--seconds', '4', '--rounds', '2'],
  footprint: ['--starts', '3'],
  workers: ['--seconds', '3', '--rounds', '2'],
}

/** --smoke (CI): each in its shortest form, SQLite only, nothing written; proves the scripts run. */
const SMOKE: Array<[string, string[]]> = [
  ['cli-startup', ['--smoke']],
  ['sign-in', ['--smoke']],
  ['footprint', ['--smoke']],
  ['workers', ['--smoke']],
]

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { full: { type: 'boolean', default: false }, smoke: { type: 'boolean', default: false } },
})
const unknown = positionals.filter((p) => !(p in BENCHES))
if (unknown.length) {
  process.stderr.write(`unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHES).join(', ')}\n`)
  process.exit(2)
}
const selected: Array<[string, string[]]> = values.smoke
  ? SMOKE
  : (positionals.length ? positionals : Object.keys(BENCHES)).map((name) => [name, values.full ? [] : BENCHES[name]!])

if (!values.smoke)
  spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: path.resolve(import.meta.dirname, '..'), stdio: 'inherit' })
const failed: string[] = []
for (const [name, args] of selected) {
  process.stdout.write(`\n== bench/${name}.ts ${args.join(' ')}\n`)
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, `${name}.ts`), ...args], {
    cwd: path.resolve(import.meta.dirname, '..'),
    stdio: 'inherit',
  })
  if (r.status !== 0) failed.push(name)
}
if (failed.length) {
  process.stderr.write(`\nfailed: ${failed.join(', ')}\n`)
  process.exit(1)
}

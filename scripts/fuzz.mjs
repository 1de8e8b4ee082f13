#!/usr/bin/env node
// `npm run fuzz -- [--runs N] [--seed S]`: the hostile-input property suite (every declared
// route and every endpoint oidc-provider's discovery names) with more runs than CI's fixed
// bound. Without TEST_DATABASE_URL / TEST_REDIS_URL only the SQLite variant runs.
import { spawnSync } from 'node:child_process'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { runs: { type: 'string' }, seed: { type: 'string' } } })
for (const [name, v] of Object.entries(values)) {
  if (!/^\d{1,9}$/.test(v)) {
    console.error(`fuzz: --${name} must be a whole number`)
    process.exit(2)
  }
}
const env = { ...process.env, FUZZ_RUNS: values.runs ?? '20000', FUZZ_SEED: values.seed ?? String(Date.now() % 1e9) }
console.log(`fuzz: ${env.FUZZ_RUNS} runs, seed ${env.FUZZ_SEED} (repeat a failure with --seed ${env.FUZZ_SEED})`)
const r = spawnSync('npx', ['vitest', 'run', 'test/http/hostile-input.test.ts', '--testTimeout=0'], {
  stdio: 'inherit',
  env,
})
process.exit(r.status ?? 1)

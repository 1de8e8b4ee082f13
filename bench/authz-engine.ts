/**
 * The policy engine alone (no HTTP): indexed fast path against plain node-casbin enforce() on
 * the same RBAC store, in one process and one run.
 *
 *   node --import tsx bench/authz-engine.ts [--sizes 10000,100000] [--fast 200000] [--plain-seconds 4]
 *
 * Store: bench/rbac-store.ts (1,000+ users with 1-2 roles, 100+ roles in a hierarchy of depth 3,
 * padded with grants to the requested line count). Requests are distinct random
 * (user, object, action) triples, so no cache could help; most are denials, which are the
 * expensive case for enforce() (it walks every line). Every plain answer is compared with the
 * fast path's. Results go to bench/results/authz-engine.json. Numbers from a shared 2-core
 * machine are noisy: compare the ratio within a run rather than absolute numbers across runs.
 */
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { createPolicyEngine, type Decision, type PolicyEngine } from '../src/authz/engine/index.ts'
import { buildRbacStore, randomRequests, type RbacStore } from './rbac-store.ts'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    fast: { type: 'string', default: '200000' },
    'plain-seconds': { type: 'string', default: '4' },
  },
})
const sizes = values.sizes.split(',').map(Number)
const fastChecks = Number(values.fast)
const plainSeconds = Number(values['plain-seconds'])

const RESULTS = path.resolve(import.meta.dirname, 'results/authz-engine.json')
const MODEL = path.resolve(import.meta.dirname, '../policies/rbac.conf')

const pct = (sorted: Float64Array, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

interface Timing {
  checks: number
  checks_per_second: number
  ms_p50: number
  ms_p99: number
  allowed_share: number
}

/** Times each check, and the whole run (the rate comes from the run, not the sum of samples). */
function measure(
  check: (r: string[]) => Decision,
  requests: string[][],
  budgetMs = Infinity,
): Timing & { decisions: Decision[] } {
  const samples = new Float64Array(requests.length)
  const decisions: Decision[] = []
  const started = performance.now()
  let n = 0
  for (; n < requests.length; n++) {
    const t = performance.now()
    decisions.push(check(requests[n]!))
    samples[n] = performance.now() - t
    if (t - started > budgetMs) {
      n++
      break
    }
  }
  const elapsed = performance.now() - started
  const sorted = samples.slice(0, n).sort()
  return {
    checks: n,
    checks_per_second: round(n / (elapsed / 1000)),
    ms_p50: round(pct(sorted, 50), 4),
    ms_p99: round(pct(sorted, 99), 4),
    allowed_share: round(decisions.filter((d) => d.allowed).length / n, 3),
    decisions,
  }
}

/**
 * Requests half of which are granted: a random grant line (role, object, action) asked for by a
 * user holding that role directly or through the hierarchy, mixed with random requests.
 */
async function mixedRequests(engine: PolicyEngine, store: RbacStore, n: number): Promise<string[][]> {
  const holders = new Map<string, string[]>()
  for (let r = 0; r < store.roles; r++) {
    const role = `role${r}`
    holders.set(
      role,
      (await engine.usersForRole(role)).filter((u) => u.startsWith('user')),
    )
  }
  const grants = store.lines.filter((l) => l[0] === 'p' && holders.get(l[1]!)?.length)
  const random = randomRequests(store, n)
  return random.map((r, i) => {
    if (i % 2) return r
    const [, role, obj, act] = grants[Math.floor(Math.random() * grants.length)]!
    const users = holders.get(role!)!
    return [users[Math.floor(Math.random() * users.length)]!, obj!, act!]
  })
}

async function run(targetLines: number, modelText: string) {
  const store = buildRbacStore(targetLines)
  const buildStarted = performance.now()
  const engine: PolicyEngine = await createPolicyEngine({ modelText, policyLines: store.lines })
  const buildMs = performance.now() - buildStarted
  if (engine.mode.kind !== 'indexed') throw new Error(`expected the fast path, got ${JSON.stringify(engine.mode)}`)

  // warm the JIT on requests that are not measured
  for (const r of randomRequests(store, 5000)) engine.check(r)

  const workloads: Record<string, string[][]> = {
    random: randomRequests(store, fastChecks),
    half_allowed: await mixedRequests(engine, store, fastChecks),
  }
  const out: Record<string, unknown> = {}
  let compared = 0
  for (const [name, requests] of Object.entries(workloads)) {
    const fast = measure(engine.check, requests)
    const plain = measure(engine.checkPlain, requests, plainSeconds * 1000)
    // the same answers, request by request, on everything plain enforce() got through
    const differing = plain.decisions.filter((d, i) => JSON.stringify(d) !== JSON.stringify(fast.decisions[i])).length
    if (differing) throw new Error(`${differing} fast-path answers differ from enforce()`)
    compared += plain.checks
    const { decisions: _f, ...fastTiming } = fast
    const { decisions: _p, ...plainTiming } = plain
    out[name] = {
      fast_path: fastTiming,
      plain_enforce: plainTiming,
      ratio_fast_vs_plain: round(fast.checks_per_second / plain.checks_per_second, 0),
    }
  }
  return {
    store: { lines: store.lines.length, users: store.users, roles: store.roles, objects: store.objects, role_depth: 3 },
    engine_build_ms: round(buildMs),
    mode: engine.mode,
    workloads: out as Record<string, { fast_path: Timing; plain_enforce: Timing; ratio_fast_vs_plain: number }>,
    compared_answers: compared,
  }
}

async function main() {
  const modelText = await fs.readFile(MODEL, 'utf8')
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version },
    model: 'policies/rbac.conf',
  }
  for (const size of sizes) {
    const r = await run(size, modelText)
    results[`lines_${size}`] = r
    console.log(
      `\nRBAC store, ${r.store.lines} lines (${r.store.users} users, ${r.store.roles} roles, depth 3), built in ${r.engine_build_ms} ms`,
    )
    console.log(`  ${r.mode.kind === 'indexed' ? r.mode.description : ''}`)
    const line = (name: string, t: Timing) =>
      console.log(
        `    ${name.padEnd(14)} ${String(t.checks_per_second).padStart(10)} checks/s   p50 ${t.ms_p50} ms   p99 ${t.ms_p99} ms   (${t.checks} checks, ${Math.round(t.allowed_share * 100)}% allowed)`,
      )
    for (const [name, w] of Object.entries(r.workloads)) {
      console.log(`  ${name} requests`)
      line('fast path', w.fast_path)
      line('plain enforce', w.plain_enforce)
      console.log(`    ratio          ${w.ratio_fast_vs_plain}x`)
    }
    console.log(`  ${r.compared_answers} plain answers compared with the fast path: all equal`)
  }
  await fs.mkdir(path.dirname(RESULTS), { recursive: true })
  await fs.writeFile(RESULTS, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nwritten to ${path.relative(process.cwd(), RESULTS)}`)
}

await main()

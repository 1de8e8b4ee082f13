/**
 * `portcullis serve --workers 2` vs one process (issue 16 §7: ≥ 1.7x), PostgreSQL + Redis (the
 * command refuses more than one worker on embedded SQLite), measured in the same run: client
 * credentials tokens (ES256 JWT, CPU-bound in the server) and single AuthZEN decisions, at a
 * concurrency that keeps both workers busy, over real HTTP with bench/http-load.ts. Server CPU
 * is the whole process tree (primary and workers). The load client runs in this process and
 * shares the machine's cores: on a 2-core machine two workers and the client compete for two
 * cores, so the ratio there is a floor; CPU per request shows whether a worker costs more.
 *
 *   node --import tsx bench/workers.ts [--seconds 4] [--rounds 2] [--concurrency 16] [--smoke]
 *
 * Needs TEST_DATABASE_URL and TEST_REDIS_URL (skipped otherwise, and in --smoke).
 * Results: bench/results/workers.json and its section of bench/RESULTS.md.
 */
import fs from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { Connection } from './http-load.ts'
import {
  backends,
  machineLine,
  median,
  pct,
  round,
  rssKb,
  startPortcullis,
  treeCpuSeconds,
  writeSection,
} from './lib.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    smoke: { type: 'boolean', default: false },
  },
})
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const concurrency = Number(values.concurrency)
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop'
const RESOURCE = 'https://api.bench.example'
const doc = {
  resources: [
    {
      indicator: RESOURCE,
      scopes: ['orders:read'],
      access_token_format: 'jwt',
      access_token_ttl: 600,
      access_token_signing_alg: 'ES256',
    },
  ],
  clients: [
    {
      client_id: 'bench',
      client_secret: SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'orders:read authz:check',
    },
  ],
  policy_stores: [
    {
      name: 'bench',
      model: 'rbac.conf',
      policy: Array.from({ length: 200 }, (_, i) => `p, role${i % 20}, doc${i}, read\ng, user${i}, role${i % 20}`).join(
        '\n',
      ),
    },
  ],
}
const form = {
  'content-type': 'application/x-www-form-urlencoded',
  authorization: `Basic ${Buffer.from(`bench:${SECRET}`).toString('base64')}`,
}

type Server = Awaited<ReturnType<typeof startPortcullis>>

async function measure(server: Server, op: (c: Connection, i: number) => Promise<void>) {
  const conns = await Promise.all(Array.from({ length: concurrency }, () => Connection.open(server.port)))
  try {
    for (const c of conns) for (let i = 0; i < 3; i++) await op(c, i)
    const times: number[] = []
    const until = Date.now() + seconds * 1000
    const cpu0 = treeCpuSeconds(server.child.pid!)
    const t0 = performance.now()
    await Promise.all(
      conns.map(async (c) => {
        for (let i = 0; Date.now() < until; i++) {
          const s = performance.now()
          await op(c, i)
          times.push(performance.now() - s)
        }
      }),
    )
    const wall = (performance.now() - t0) / 1000
    const cpu = treeCpuSeconds(server.child.pid!) - cpu0
    return {
      per_second: times.length / wall,
      p50_ms: pct(times, 50),
      p99_ms: pct(times, 99),
      server_cpu_ms: (cpu * 1000) / times.length,
    }
  } finally {
    for (const c of conns) c.close()
  }
}

async function operations(server: Server) {
  const res = await fetch(`${server.url}/token`, {
    method: 'POST',
    headers: form,
    body: 'grant_type=client_credentials&scope=authz:check',
  })
  const token = ((await res.json()) as { access_token: string }).access_token
  const json = { 'content-type': 'application/json', authorization: `Bearer ${token}` }
  return {
    client_credentials_jwt: async (c: Connection) => {
      const r = await c.post(
        '/token',
        form,
        `grant_type=client_credentials&scope=orders%3Aread&resource=${encodeURIComponent(RESOURCE)}`,
      )
      if (r.status !== 200) throw new Error(`token: ${r.status} ${r.body}`)
    },
    authzen_single: async (c: Connection, i: number) => {
      const body = JSON.stringify({
        subject: { type: 'user', id: `user${i % 200}` },
        resource: { type: 'doc', id: `doc${(i * 7) % 200}` },
        action: { name: 'read' },
        context: { store: 'bench' },
      })
      const r = await c.post('/access/v1/evaluation', json, body)
      if (r.status !== 200) throw new Error(`evaluation: ${r.status} ${r.body}`)
    },
  }
}

const results: Record<string, unknown> = { at: new Date().toISOString(), settings: { seconds, rounds, concurrency } }
const pg = (await backends(values.smoke)).find((b) => b.databaseUrl)
if (!pg) {
  console.warn('workers: skipped (needs TEST_DATABASE_URL and TEST_REDIS_URL; not run in --smoke)')
  process.exit(0)
}
try {
  const env = { RATE_LIMIT_TOKEN: '999999999/60', RATE_LIMIT_DEFAULT: '999999999/60' }
  const one = await startPortcullis(pg, doc, { env, args: ['--workers', '1'] })
  const two = await startPortcullis(pg, undefined, { env, args: ['--workers', '2'] })
  try {
    results.idle_rss_mb = {
      workers_1: round(rssKb(one.child.pid!) / 1024, 1),
      workers_2: round(rssKb(two.child.pid!) / 1024, 1),
    }
    results.ready_ms = { workers_1: round(one.readyMs, 0), workers_2: round(two.readyMs, 0) }
    const ops1 = await operations(one)
    const ops2 = await operations(two)
    for (const name of Object.keys(ops1) as Array<keyof typeof ops1>) {
      const a: Array<Awaited<ReturnType<typeof measure>>> = []
      const b: typeof a = []
      for (let r = 0; r < rounds; r++) {
        if (r % 2 === 0) {
          a.push(await measure(one, ops1[name]))
          b.push(await measure(two, ops2[name]))
        } else {
          b.push(await measure(two, ops2[name]))
          a.push(await measure(one, ops1[name]))
        }
      }
      const m = (xs: typeof a) =>
        Object.fromEntries(
          Object.keys(xs[0]!).map((k) => [k, round(median(xs.map((x) => x[k as keyof typeof x])), 3)]),
        ) as Record<keyof (typeof a)[number], number>
      const w1 = m(a)
      const w2 = m(b)
      results[name] = { workers_1: w1, workers_2: w2, ratio: round(w2.per_second / w1.per_second) }
    }
  } finally {
    await one.stop()
    await two.stop()
    await fs.rm(one.dir, { recursive: true, force: true })
    await fs.rm(two.dir, { recursive: true, force: true })
  }
} finally {
  await pg.drop?.()
}
console.log(JSON.stringify(results, null, 2))
await fs.mkdir('bench/results', { recursive: true })
await fs.writeFile('bench/results/workers.json', JSON.stringify(results, null, 2) + '\n')
type Row = { workers_1: Record<string, number>; workers_2: Record<string, number>; ratio: number }
const row = (label: string, r: Row) =>
  `| ${label} | ${round(r.workers_1.per_second!, 0)} | ${r.workers_1.p50_ms} / ${r.workers_1.p99_ms} | ${r.workers_1.server_cpu_ms} | ${round(r.workers_2.per_second!, 0)} | ${r.workers_2.p50_ms} / ${r.workers_2.p99_ms} | ${r.workers_2.server_cpu_ms} | **${r.ratio}x** (goal 1.7x: ${r.ratio >= 1.7 ? 'met' : 'missed'}) |`
const rss = results.idle_rss_mb as { workers_1: number; workers_2: number }
await writeSection(
  'workers',
  `## \`--workers 2\` vs one worker (\`bench/workers.ts\`, PostgreSQL + Redis)

${machineLine()} at the end; concurrency ${concurrency}, ${rounds} rounds of ${seconds} s per side, rotated, medians. Server CPU
is the whole process tree. The load client runs on the same two cores.

| path | 1 worker req/s | p50 / p99 ms | CPU ms/req | 2 workers req/s | p50 / p99 ms | CPU ms/req | ratio |
|---|---:|---:|---:|---:|---:|---:|---:|
${row('client credentials -> ES256 JWT', results.client_credentials_jwt as Row)}
${row('AuthZEN single evaluation', results.authzen_single as Row)}

Idle RSS: ${rss.workers_1} MB with one worker, ${rss.workers_2} MB with two (primary + workers).`,
)
process.exit(0)

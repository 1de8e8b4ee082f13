/**
 * Token endpoint and introspection throughput: portcullis (a real `portcullis serve` child
 * process) against bare oidc-provider 9 (a child process of this script running only the
 * library: in-memory adapter, the same signing algorithm — ES256, portcullis's default —, the same client and
 * resources), measured
 * in the same run over real HTTP with the same load client.
 *
 *   node --import tsx bench/oidc-token.ts [--seconds 3] [--rounds 3] [--concurrency 8]
 *
 * Paths: (a) client credentials grant issuing an ES256 JWT access token (RFC 9068) for a
 * registered resource; (b) introspection (RFC 7662) of an opaque access token by the client it
 * was issued to. Each measure runs the sides in turn, A B A B ..., `--rounds` times and reports
 * the median over the rounds. Per side: requests/s at a fixed concurrency, client-side p50/p99 latency, and
 * the server process's CPU (user + system from /proc/PID/stat, before and after the measure) per
 * request; the load client's own CPU (process.cpuUsage) is reported next to it. "Per core" is
 * requests per CPU second of the server process: on a shared, loaded machine that is the fair
 * comparison, wall-clock throughput is not. SQLite always; PostgreSQL + Redis too when
 * TEST_DATABASE_URL and TEST_REDIS_URL are set. Results: bench/results/oidc-token.json.
 * BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the portcullis
 * server.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Connection } from './http-load.ts'
import { freePort, pct, cpuSeconds } from './lib.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    'bare-server': { type: 'string' },
  },
})

const CLIENT_ID = 'bench'
const SECRET = 'bench-secret-0123456789-abcdefghijklmnop'
const JWT_RESOURCE = 'https://api.bench.example'
const OPAQUE_RESOURCE = 'https://opaque.bench.example'
const SCOPE = 'orders:read'

/** The bare library: oidc-provider 9 with its default in-memory adapter, nothing else. */
async function bareServer(port: number) {
  const { default: Provider } = await import('oidc-provider')
  // Both key types, as portcullis publishes (RS256 stays the ID token default of a client).
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const keys = [
    { ...ec.export({ format: 'jwk' }), kid: 'bench-es', use: 'sig', alg: 'ES256' },
    { ...rsa.export({ format: 'jwk' }), kid: 'bench-rs', use: 'sig', alg: 'RS256' },
  ]
  const url = `http://127.0.0.1:${port}`
  const provider = new Provider(url, {
    jwks: { keys },
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: SCOPE,
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    scopes: [SCOPE],
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf ?? JWT_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) =>
          indicator === JWT_RESOURCE
            ? {
                scope: SCOPE,
                audience: JWT_RESOURCE,
                accessTokenTTL: 600,
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'ES256' } },
              }
            : { scope: SCOPE, audience: OPAQUE_RESOURCE, accessTokenTTL: 600, accessTokenFormat: 'opaque' },
      },
    },
  })
  provider.listen(port, '127.0.0.1')
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

interface Side {
  name: string
  port: number
  child: ChildProcess
  stderr: () => string
  stop: () => Promise<void>
}

async function waitReady(side: Side, probe: string) {
  for (let i = 0; ; i++) {
    if (i > 900 || side.child.exitCode !== null) throw new Error(`${side.name} did not start:\n${side.stderr()}`)
    if (
      await fetch(`http://127.0.0.1:${side.port}${probe}`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return
    await new Promise((r) => setTimeout(r, 100))
  }
}

function startChild(name: string, args: string[], env: Record<string, string>, port: number): Side {
  const child = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  return {
    name,
    port,
    child,
    stderr: () => stderr,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

async function startPortcullis(backend: { databaseUrl?: string; redisUrl?: string }): Promise<Side & { dir: string }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-bench-oidc-'))
  const importFile = path.join(dir, 'bench.json')
  await fs.writeFile(
    importFile,
    JSON.stringify({
      resources: [
        {
          indicator: JWT_RESOURCE,
          scopes: [SCOPE],
          access_token_format: 'jwt',
          access_token_ttl: 600,
          access_token_signing_alg: 'ES256',
        },
        { indicator: OPAQUE_RESOURCE, scopes: [SCOPE], access_token_format: 'opaque', access_token_ttl: 600 },
      ],
      clients: [
        {
          client_id: CLIENT_ID,
          client_secret: SECRET,
          grant_types: ['client_credentials'],
          response_types: [],
          scope: SCOPE,
        },
      ],
    }),
  )
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  // The rate limiter stays on (its cost is part of the path) with a budget the bench cannot reach.
  const side = startChild(
    'portcullis',
    [...nodeArgs, 'bin/portcullis.mjs', 'serve'],
    {
      DATA_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      LOG_LEVEL: 'warn',
      PORTCULLIS_IMPORT: importFile,
      RATE_LIMIT_TOKEN: '999999999/60',
      RATE_LIMIT_INTROSPECTION: '999999999/60',
      ...(backend.databaseUrl
        ? { DATABASE_URL: backend.databaseUrl, PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64') }
        : {}),
      ...(backend.redisUrl
        ? { REDIS_URL: backend.redisUrl, REDIS_PREFIX: `pc-bench-${crypto.randomBytes(4).toString('hex')}:` }
        : {}),
    },
    port,
  )
  try {
    await waitReady(side, '/readyz')
  } catch (err) {
    await side.stop()
    await fs.rm(dir, { recursive: true, force: true })
    throw err
  }
  return { ...side, dir }
}

async function startBare(): Promise<Side> {
  const port = await freePort()
  const side = startChild(
    'oidc-provider',
    ['--import', 'tsx', import.meta.filename, '--bare-server', String(port)],
    {},
    port,
  )
  await waitReady(side, '/.well-known/openid-configuration')
  return side
}

const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${SECRET}`).toString('base64')}`
const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic }
const ccBody = (resource: string) =>
  `grant_type=client_credentials&scope=${encodeURIComponent(SCOPE)}&resource=${encodeURIComponent(resource)}`

async function issue(side: Side, resource: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${side.port}/token`, {
    method: 'POST',
    headers: form,
    body: ccBody(resource),
  })
  const body = (await res.json()) as { access_token?: string }
  if (!res.ok || !body.access_token)
    throw new Error(`${side.name}: token request failed ${res.status} ${JSON.stringify(body)}`)
  return body.access_token
}

type Op = (conn: Connection) => Promise<void>
const operations = {
  client_credentials_jwt:
    async (_side: Side): Promise<Op> =>
    async (conn) => {
      const r = await conn.post('/token', form, ccBody(JWT_RESOURCE))
      if (r.status !== 200 || !r.body.includes('"access_token"')) throw new Error(`token: ${r.status} ${r.body}`)
    },
  introspection_opaque: async (side: Side): Promise<Op> => {
    const token = await issue(side, OPAQUE_RESOURCE)
    if (token.split('.').length === 3) throw new Error(`${side.name}: expected an opaque token`)
    const body = `token=${encodeURIComponent(token)}`
    return async (conn) => {
      const r = await conn.post('/token/introspection', form, body)
      if (r.status !== 200 || !r.body.includes('"active":true')) throw new Error(`introspection: ${r.status} ${r.body}`)
    }
  },
}

async function measure(side: Side, op: Op, seconds: number, concurrency: number) {
  const conns = await Promise.all(Array.from({ length: concurrency }, () => Connection.open(side.port)))
  try {
    // warm-up (JIT, caches such as portcullis's verified-secret cache)
    for (const conn of conns) for (let i = 0; i < 5; i++) await op(conn)
    const times: number[] = []
    const until = Date.now() + seconds * 1000
    const serverCpu0 = cpuSeconds(side.child.pid!)
    const clientCpu0 = process.cpuUsage()
    const t0 = performance.now()
    await Promise.all(
      conns.map(async (conn) => {
        while (Date.now() < until) {
          const s = performance.now()
          await op(conn)
          times.push(performance.now() - s)
        }
      }),
    )
    const wall = (performance.now() - t0) / 1000
    const serverCpu = cpuSeconds(side.child.pid!) - serverCpu0
    const clientCpu = process.cpuUsage(clientCpu0)
    const n = times.length
    return {
      requests: n,
      per_second: n / wall,
      p50_ms: pct(times, 50),
      p99_ms: pct(times, 99),
      server_cpu_ms_per_request: (serverCpu * 1000) / n,
      per_server_cpu_second: n / serverCpu,
      load_client_cpu_ms_per_request: (clientCpu.user + clientCpu.system) / 1000 / n,
    }
  } finally {
    for (const conn of conns) conn.close()
  }
}

type Result = Awaited<ReturnType<typeof measure>>
function summarise(rounds: Result[]) {
  const m = (k: keyof Result) => median(rounds.map((r) => r[k]))
  return {
    per_second: round(m('per_second'), 0),
    p50_ms: round(m('p50_ms')),
    p99_ms: round(m('p99_ms')),
    server_cpu_ms_per_request: round(m('server_cpu_ms_per_request'), 3),
    per_server_cpu_second: round(m('per_server_cpu_second'), 0),
    load_client_cpu_ms_per_request: round(m('load_client_cpu_ms_per_request'), 3),
    rounds: rounds.map((r) => ({
      requests: r.requests,
      per_second: round(r.per_second, 0),
      server_cpu_ms_per_request: round(r.server_cpu_ms_per_request, 3),
    })),
  }
}

async function runBackend(
  label: string,
  backend: { databaseUrl?: string; redisUrl?: string },
  seconds: number,
  rounds: number,
  concurrency: number,
) {
  const pc = await startPortcullis(backend)
  const bare = await startBare().catch(async (err: unknown) => {
    await pc.stop()
    await fs.rm(pc.dir, { recursive: true, force: true })
    throw err
  })
  try {
    const out: Record<string, unknown> = {}
    for (const [name, make] of Object.entries(operations)) {
      const ops = new Map<Side, Op>([
        [pc, await make(pc)],
        [bare, await make(bare)],
      ])
      const results = new Map<Side, Result[]>([
        [pc, []],
        [bare, []],
      ])
      for (let r = 0; r < rounds; r++) {
        // A B, then B A: neither side always runs first into a warm or cold machine.
        const order = r % 2 === 0 ? [pc, bare] : [bare, pc]
        for (const side of order) results.get(side)!.push(await measure(side, ops.get(side)!, seconds, concurrency))
      }
      const p = summarise(results.get(pc)!)
      const b = summarise(results.get(bare)!)
      out[name] = {
        portcullis: p,
        oidc_provider: b,
        ratio_throughput: round(p.per_second / b.per_second),
        ratio_per_core: round(b.server_cpu_ms_per_request / p.server_cpu_ms_per_request),
      }
      console.log(label, name, JSON.stringify(out[name]))
    }
    return out
  } finally {
    await pc.stop()
    await bare.stop()
    await fs.rm(pc.dir, { recursive: true, force: true }).catch(() => {})
  }
}

async function main() {
  const seconds = Number(values.seconds)
  const rounds = Number(values.rounds)
  const concurrency = Number(values.concurrency)
  const results: Record<string, unknown> = {
    at: new Date().toISOString(),
    machine: { cpus: os.cpus().length, node: process.version, loadavg_at_start: os.loadavg().map((x) => round(x)) },
    settings: { seconds_per_side_per_round: seconds, rounds, concurrency },
    measured:
      'server_cpu_ms_per_request: user+system CPU of the server child process (/proc/PID/stat) over the measure / requests; per_server_cpu_second: requests per CPU second of the server ("per core"); load_client_cpu_ms_per_request: process.cpuUsage() of the bench process (the shared load client); p50/p99: client-side latency; ratio_per_core = bare CPU per request / portcullis CPU per request',
  }
  results.sqlite = await runBackend('sqlite', {}, seconds, rounds, concurrency)
  if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) {
    const { createTestDatabase } = await import('../src/db/testing.ts')
    const db = await createTestDatabase('postgresql')
    try {
      results.postgresql_redis = await runBackend(
        'postgresql+redis',
        { databaseUrl: db.url, redisUrl: process.env.TEST_REDIS_URL },
        seconds,
        rounds,
        concurrency,
      )
    } finally {
      await db.drop()
    }
  } else {
    results.postgresql_redis = { skipped: 'set TEST_DATABASE_URL and TEST_REDIS_URL' }
  }
  results.loadavg_at_end = os.loadavg().map((x) => round(x))
  await fs.mkdir('bench/results', { recursive: true })
  await fs.writeFile('bench/results/oidc-token.json', JSON.stringify(results, null, 2) + '\n')
  await writeSection(results)
}

type Summary = ReturnType<typeof summarise>
interface Pair {
  portcullis: Summary
  oidc_provider: Summary
  ratio_throughput: number
  ratio_per_core: number
}

/** The generated part of bench/RESULTS.md: the table of this run (the analysis below it is prose). */
async function writeSection(results: Record<string, unknown>) {
  const machine = results.machine as { cpus: number; node: string; loadavg_at_start: number[] }
  const settings = results.settings as { seconds_per_side_per_round: number; rounds: number; concurrency: number }
  const label: Record<string, string> = {
    client_credentials_jwt: 'client credentials -> ES256 JWT',
    introspection_opaque: 'introspection of an opaque token',
  }
  const rows: string[] = []
  for (const backend of ['sqlite', 'postgresql_redis']) {
    const b = results[backend] as Record<string, Pair> | { skipped: string }
    if ('skipped' in b) continue
    for (const [op, pair] of Object.entries(b)) {
      const cell = (x: Summary) =>
        `${x.per_second} | ${x.p50_ms} / ${x.p99_ms} | ${x.server_cpu_ms_per_request} | ${x.per_server_cpu_second} | ${x.load_client_cpu_ms_per_request}`
      rows.push(
        `| ${backend === 'sqlite' ? 'SQLite' : 'PostgreSQL + Redis'} | ${label[op]} | portcullis | ${cell(pair.portcullis)} | | |`,
      )
      rows.push(`| | | oidc-provider (bare) | ${cell(pair.oidc_provider)} | | |`)
      rows.push(
        `| | | **portcullis / bare** | | | | | | **${pair.ratio_throughput}x** | **${pair.ratio_per_core}x** ${pair.ratio_per_core >= 0.8 ? '(met)' : '(goal 0.8x: missed)'} |`,
      )
    }
  }
  const section = `<!-- oidc-token:begin -->
## Token endpoint and introspection vs bare oidc-provider (\`bench/oidc-token.ts\`)

${results.at as string}, node ${machine.node}, ${machine.cpus} CPUs, **a shared, loaded 2-core machine** (a CI run of the whole
suite and other engineers' work ran at the same time; load average ${machine.loadavg_at_start.join(' ')} at the start,
${(results.loadavg_at_end as number[]).join(' ')} at the end). Both servers are child processes of the bench, driven over
real HTTP/1.1 keep-alive by the same load client (bench/http-load.ts) at concurrency ${settings.concurrency}; sides rotated
A B / B A for ${settings.rounds} rounds of ${settings.seconds_per_side_per_round} s each, median over the rounds of each figure. req/s and latency are wall clock
and stretch with the machine's load; **server CPU ms/req** (user + system of the server process from /proc, over the
measure, divided by requests) is what each request costs, and **req per CPU s** is the "per core" figure the goal
is about. The load client's own CPU (process.cpuUsage of the bench process) is shown too: it shares the cores.
On PostgreSQL + Redis the database's and Redis's own CPU is spent in their processes and is *not* in portcullis's
server CPU (the bare provider has no database at all), so that row flatters portcullis.

| backend | path | side | req/s | p50 / p99 ms | server CPU ms/req | req per server CPU s | client CPU ms/req | ratio req/s | ratio per core |
|---|---|---|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}
<!-- oidc-token:end -->`
  const file = 'bench/RESULTS.md'
  const current = await fs.readFile(file, 'utf8').catch(() => '# Benchmark results\n')
  const re = /<!-- oidc-token:begin -->[\s\S]*<!-- oidc-token:end -->/
  await fs.writeFile(file, re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`)
}

if (values['bare-server']) {
  await bareServer(Number(values['bare-server']))
} else {
  await main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err)
      process.exit(1)
    },
  )
}

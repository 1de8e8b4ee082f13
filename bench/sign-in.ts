/**
 * Password sign-in (issue 16 §7): a whole sign-in over real HTTP against `portcullis serve` —
 * GET the authorization URL, follow to the login page, POST e-mail and password, follow the
 * redirects to the client's redirect_uri with a code (the client has `skip_consent`, so no
 * consent page) — against the bare cost it cannot avoid: one argon2id verification with the
 * same parameters (@node-rs/argon2, m=19456 t=2 p=1), measured in the same run, rounds rotated.
 *
 *   node --import tsx bench/sign-in.ts [--seconds 5] [--rounds 2] [--concurrency 2] [--smoke]
 *
 * Per sign-in: server CPU (user + system of the server process from /proc), HTTP requests,
 * wall p50/p99. Baseline: argon2id verifications per CPU second of this process (nothing else
 * runs in it meanwhile). SQLite always; PostgreSQL + Redis when TEST_DATABASE_URL and
 * TEST_REDIS_URL are set. --smoke: three sign-ins on SQLite, nothing written.
 * Results: bench/results/sign-in.json and the sign-in section of bench/RESULTS.md.
 */
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { hashPassword, verifyPassword } from '../src/identity/passwords.ts'
import { UserAgent, signIn } from '../test/helpers/user-agent.ts'
import {
  backends,
  cpuSeconds,
  machineLine,
  median,
  pct,
  round,
  startPortcullis,
  writeSection,
  type Backend,
} from './lib.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '2' },
    smoke: { type: 'boolean', default: false },
  },
})
const seconds = Number(values.seconds)
const rounds = values.smoke ? 1 : Number(values.rounds)
const concurrency = Number(values.concurrency)

const CALLBACK = 'https://app.bench.example/cb'
const PASSWORD = 'correct horse battery staple 42'
const USERS = 20

const doc = {
  clients: [
    {
      client_id: 'web',
      client_secret: 'web-secret-0123456789-abcdefghijklmnop',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [CALLBACK],
      scope: 'openid email',
      skip_consent: true,
    },
  ],
  users: Array.from({ length: USERS }, (_, i) => ({
    email: `user${i}@bench.example`,
    password: PASSWORD,
    name: `User ${i}`,
  })),
}

/** A UserAgent that counts its requests. */
class CountingAgent extends UserAgent {
  requests = 0
  override request(...args: Parameters<UserAgent['request']>) {
    this.requests++
    return super.request(...args)
  }
}

async function oneSignIn(base: string, n: number) {
  const ua = new CountingAgent(base)
  const verifier = crypto.randomBytes(32).toString('base64url')
  const auth = new URL('/auth', base)
  auth.search = new URLSearchParams({
    client_id: 'web',
    response_type: 'code',
    scope: 'openid email',
    redirect_uri: CALLBACK,
    state: crypto.randomBytes(8).toString('hex'),
    code_challenge: crypto.createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString()
  const r = await signIn(ua, auth, { email: `user${n % USERS}@bench.example`, password: PASSWORD })
  if (!r.callback?.searchParams.get('code')) throw new Error(`sign-in failed: ${r.failed?.slice(0, 300) ?? r.callback}`)
  return ua.requests
}

async function measurePortcullis(
  server: { url: string; child: { pid?: number } },
  forSeconds: number,
  maxSignIns = Infinity,
) {
  const times: number[] = []
  const requests: number[] = []
  let n = 0
  const cpu0 = cpuSeconds(server.child.pid!)
  const t0 = performance.now()
  const until = Date.now() + forSeconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until && n < maxSignIns) {
        const s = performance.now()
        requests.push(await oneSignIn(server.url, n++))
        times.push(performance.now() - s)
      }
    }),
  )
  const cpu = cpuSeconds(server.child.pid!) - cpu0
  return {
    sign_ins: times.length,
    per_second: times.length / ((performance.now() - t0) / 1000),
    p50_ms: pct(times, 50),
    p99_ms: pct(times, 99),
    server_cpu_ms: (cpu * 1000) / times.length,
    per_server_cpu_second: times.length / cpu,
    http_requests: median(requests),
  }
}

async function measureArgon2(hash: string, forSeconds: number) {
  const times: number[] = []
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  const until = Date.now() + forSeconds * 1000
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < until) {
        const s = performance.now()
        if (!(await verifyPassword(hash, PASSWORD))) throw new Error('argon2 verify failed')
        times.push(performance.now() - s)
      }
    }),
  )
  const c = process.cpuUsage(c0)
  const cpu = (c.user + c.system) / 1e6
  return {
    verifies: times.length,
    per_second: times.length / ((performance.now() - t0) / 1000),
    p50_ms: pct(times, 50),
    p99_ms: pct(times, 99),
    cpu_ms: (cpu * 1000) / times.length,
    per_cpu_second: times.length / cpu,
  }
}

type Measure = Record<string, number>
const summarise = (xs: Measure[]) =>
  Object.fromEntries(Object.keys(xs[0]!).map((k) => [k, round(median(xs.map((x) => x[k]!)), 3)]))

async function runBackend(backend: Backend) {
  const server = await startPortcullis(backend, doc, {
    env: { RATE_LIMIT_SIGNIN: '999999999/60', RATE_LIMIT_DEFAULT: '999999999/60' },
  })
  try {
    const hash = await hashPassword(PASSWORD)
    // warm-up: JIT, caches, the first argon2 verification of each user
    await measurePortcullis(server, 1, values.smoke ? 3 : concurrency * 4)
    if (values.smoke) return { smoke: 'ok' }
    const pc: Measure[] = []
    const a2: Measure[] = []
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        pc.push(await measurePortcullis(server, seconds))
        a2.push(await measureArgon2(hash, seconds))
      } else {
        a2.push(await measureArgon2(hash, seconds))
        pc.push(await measurePortcullis(server, seconds))
      }
    }
    const p = summarise(pc)
    const b = summarise(a2)
    return {
      portcullis: p,
      argon2_verify: b,
      ratio_per_core: round(b.cpu_ms! / p.server_cpu_ms!),
      ratio_throughput: round(p.per_second! / b.per_second!),
    }
  } finally {
    await server.stop()
    await fs.rm(server.dir, { recursive: true, force: true })
  }
}

const results: Record<string, unknown> = { at: new Date().toISOString(), settings: { seconds, rounds, concurrency } }
for (const b of await backends(values.smoke)) {
  try {
    results[b.label] = await runBackend(b)
    console.log(b.label, JSON.stringify(results[b.label]))
  } finally {
    await b.drop?.()
  }
}
if (!values.smoke) {
  await fs.mkdir('bench/results', { recursive: true })
  await fs.writeFile('bench/results/sign-in.json', JSON.stringify(results, null, 2) + '\n')
  const rows = Object.entries(results)
    .filter(([k]) => k !== 'at' && k !== 'settings')
    .map(([label, v]) => {
      const r = v as { portcullis: Measure; argon2_verify: Measure; ratio_per_core: number; ratio_throughput: number }
      return `| ${label} | ${r.portcullis.per_second} | ${r.portcullis.p50_ms} / ${r.portcullis.p99_ms} | ${r.portcullis.server_cpu_ms} | ${r.portcullis.http_requests} | ${r.argon2_verify.per_second} | ${r.argon2_verify.cpu_ms} | ${r.ratio_throughput}x | **${r.ratio_per_core}x** (goal 0.8x: ${r.ratio_per_core >= 0.8 ? 'met' : 'missed'}) |`
    })
  await writeSection(
    'sign-in',
    `## Password sign-in vs one argon2id verification (\`bench/sign-in.ts\`)

${machineLine()} at the end; concurrency ${concurrency}, ${rounds} rounds of ${seconds} s per side, rotated, medians.
A sign-in is every HTTP request from the authorization URL to the redirect carrying the code (login page, form post,
redirects; the client skips consent). Baseline: \`verifyPassword\` (argon2id m=19456 t=2 p=1) in the bench process.
Ratio per core = argon2 CPU ms per verify / server CPU ms per sign-in.

| backend | sign-ins/s | p50 / p99 ms | server CPU ms per sign-in | HTTP requests | argon2 verifies/s | argon2 CPU ms | ratio req/s | ratio per core |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}`,
  )
}
process.exit(0)

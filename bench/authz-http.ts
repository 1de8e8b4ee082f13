/**
 * Policy decision throughput over HTTP, against a real `portcullis serve` child process.
 *
 *   node --import tsx bench/authz-http.ts [--lines 10000|100000] [--seconds 5]
 *
 * Builds an RBAC store (users -> roles, role hierarchy of depth 3), then measures distinct,
 * uncached requests through POST /access/v1/evaluations (batches of 100) and
 * POST /access/v1/evaluation, reading the server's own time from Server-Timing. In the same run
 * it measures plain node-casbin enforce() on the same store in this process, and reports the
 * ratio. Results go to bench/results/authz-http.json. Numbers from a shared 2-core machine are
 * noisy: compare ratios within one run, not absolute numbers across runs.
 */
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { enginePort } from '../src/authz/engine-port.ts'
import { resolveModel } from '../src/authz/stores.ts'
import { buildRbacStore, randomRequests } from './rbac-store.ts'
import { Connection } from './http-load.ts'
import { freePort, pct, cpuSeconds } from './lib.ts'

const { values } = parseArgs({
  options: { lines: { type: 'string', default: '10000' }, seconds: { type: 'string', default: '5' } },
})
const targetLines = Number(values.lines)
const seconds = Number(values.seconds)

const serverTime = (header: string | undefined) => Number(/dur=([\d.]+)/.exec(header ?? '')?.[1] ?? NaN)

/** The import file: a client allowed authz:check, and the RBAC store. */
async function writeImport(importFile: string, csv: string, secret: string) {
  await fs.writeFile(
    importFile,
    JSON.stringify({
      clients: [
        {
          client_id: 'bench',
          client_secret: secret,
          grant_types: ['client_credentials'],
          response_types: [],
          scope: 'authz:check',
        },
      ],
      policy_stores: [{ name: 'bench', model: 'rbac.conf', policy: csv }],
    }),
  )
}

/** Runs `one` on `concurrency` connections for the configured seconds; the server's time and CPU per decision. */
async function loadTest(
  port: number,
  pid: number,
  concurrency: number,
  one: (conn: Connection) => Promise<{ decisions: number; serverMs: number }>,
) {
  const conns = await Promise.all(Array.from({ length: concurrency }, () => Connection.open(port)))
  const until = Date.now() + seconds * 1000
  const times: number[] = []
  let decisions = 0
  const started = performance.now()
  const cpuBefore = cpuSeconds(pid)
  await Promise.all(
    conns.map(async (conn) => {
      while (Date.now() < until) {
        const r = await one(conn)
        decisions += r.decisions
        times.push(r.serverMs)
      }
    }),
  )
  for (const conn of conns) conn.close()
  const serverCpuUsPerDecision = ((cpuSeconds(pid) - cpuBefore) * 1e6) / decisions
  return {
    decisions,
    perSecond: decisions / ((performance.now() - started) / 1000),
    serverP50: pct(times, 50),
    serverP99: pct(times, 99),
    serverCpuUsPerDecision,
  }
}

/**
 * Baseline in the same run: plain node-casbin enforce() on the same store, in this process, and
 * the engine's own cost (the same indexed engine the server runs), for the single-decision goal.
 */
async function inProcessBaseline(store: ReturnType<typeof buildRbacStore>) {
  const plain = await enginePort.build({
    modelText: await resolveModel('rbac.conf'),
    lines: store.lines,
    options: {},
  })
  const reqs = randomRequests(store, 2000)
  const budget = Date.now() + seconds * 1000
  let n = 0
  const t0 = performance.now()
  while (Date.now() < budget && n < reqs.length) plain.checkPlain(reqs[n++]!)
  const plainPerSecond = n / ((performance.now() - t0) / 1000)
  const engineBudget = Date.now() + Math.min(seconds, 2) * 1000
  let m = 0
  const t1 = performance.now()
  while (Date.now() < engineBudget) plain.check(reqs[m++ % reqs.length]!)
  const enginePerSecond = m / ((performance.now() - t1) / 1000)
  return { plainPerSecond, enginePerSecond }
}

async function main() {
  const store = buildRbacStore(targetLines)
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-bench-'))
  const secret = crypto.randomBytes(24).toString('base64url')
  const importFile = path.join(dir, 'bench.json')
  await writeImport(importFile, store.csv, secret)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server.
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const child = spawn(process.execPath, [...nodeArgs, 'bin/portcullis.mjs', 'serve'], {
    env: {
      PATH: process.env.PATH!,
      DATA_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      LOG_LEVEL: 'warn',
      PORTCULLIS_IMPORT: importFile,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  try {
    for (let i = 0; ; i++) {
      if (i > 600) throw new Error(`server did not start:\n${stderr}`)
      if (
        await fetch(`${url}/readyz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        break
      await new Promise((r) => setTimeout(r, 100))
    }
    const token = (
      (await (
        await fetch(`${url}/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`bench:${secret}`).toString('base64')}`,
          },
          body: 'grant_type=client_credentials&scope=authz:check',
        })
      ).json()) as { access_token: string }
    ).access_token
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' }
    const toAuthzen = ([sub, obj, act]: string[]) => ({
      subject: { type: 'user', id: sub! },
      resource: { type: 'doc', id: obj! },
      action: { name: act! },
    })

    // warm up (JIT, connection pool)
    for (let i = 0; i < 50; i++)
      await fetch(`${url}/access/v1/evaluation`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ ...toAuthzen(randomRequests(store, 1)[0]!), context: { store: 'bench' } }),
      }).then((r) => r.text())

    const load = (concurrency: number, one: (conn: Connection) => Promise<{ decisions: number; serverMs: number }>) =>
      loadTest(port, child.pid!, concurrency, one)

    const batch = await load(4, async (conn) => {
      const evaluations = randomRequests(store, 100).map(toAuthzen)
      const res = await conn.post(
        '/access/v1/evaluations',
        headers,
        JSON.stringify({ context: { store: 'bench' }, evaluations }),
      )
      const body = JSON.parse(res.body) as { evaluations: unknown[] }
      if (res.status !== 200 || body.evaluations.length !== 100) throw new Error(`evaluations failed: ${res.status}`)
      return { decisions: 100, serverMs: serverTime(res.serverTiming) }
    })
    const single = await load(8, async (conn) => {
      const res = await conn.post(
        '/access/v1/evaluation',
        headers,
        JSON.stringify({ ...toAuthzen(randomRequests(store, 1)[0]!), context: { store: 'bench' } }),
      )
      if (res.status !== 200) throw new Error(`evaluation failed: ${res.status}`)
      return { decisions: 1, serverMs: serverTime(res.serverTiming) }
    })

    const { plainPerSecond, enginePerSecond } = await inProcessBaseline(store)

    const result = {
      at: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version },
      store: { lines: store.lines.length, users: store.users, roles: store.roles, depth: 3 },
      evaluations_batch_100: {
        decisions_per_second: Math.round(batch.perSecond),
        server_ms_p50: batch.serverP50,
        server_ms_p99_per_batch: batch.serverP99,
        server_cpu_us_per_decision: Math.round(batch.serverCpuUsPerDecision),
      },
      evaluation_single: {
        decisions_per_second: Math.round(single.perSecond),
        server_ms_p50: single.serverP50,
        server_ms_p99: single.serverP99,
        server_cpu_us_per_decision: Math.round(single.serverCpuUsPerDecision),
        per_server_cpu_second: Math.round(1e6 / single.serverCpuUsPerDecision),
        goal_per_core: 15000,
      },
      indexed_engine_alone_per_second: Math.round(enginePerSecond),
      engine_us_per_decision: Math.round((1e6 / enginePerSecond) * 100) / 100,
      plain_node_casbin_enforce_per_second: Math.round(plainPerSecond * 10) / 10,
      ratio_batch_vs_plain: Math.round(batch.perSecond / plainPerSecond),
      ratio_single_vs_plain: Math.round(single.perSecond / plainPerSecond),
    }
    console.log(JSON.stringify(result, null, 2))
    const out = path.resolve('bench/results/authz-http.json')
    const previous = JSON.parse(await fs.readFile(out, 'utf8').catch(() => '{}')) as Record<string, unknown>
    await fs.writeFile(out, JSON.stringify({ ...previous, [`lines_${targetLines}`]: result }, null, 2) + '\n')
  } finally {
    child.kill('SIGTERM')
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {})
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})

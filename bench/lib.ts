/** Small measuring tools the bench scripts share. */
import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import { readFileSync, readdirSync } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

/** A TCP port free on 127.0.0.1 right now. */
export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

/** The p-th percentile of a list of numbers. */
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); NaN elsewhere. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in USER_HZ ticks
  } catch {
    return NaN
  }
}

/** Resident memory (kB) of a process and every process below it, from /proc (Linux). */
export function rssKb(pid: number): number {
  let total = 0
  try {
    total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean))
        total += rssKb(Number(child))
    }
  } catch {
    // the process ended meanwhile
  }
  return total
}

/** CPU seconds of a process and every process below it (cluster workers). */
export function treeCpuSeconds(pid: number): number {
  let total = cpuSeconds(pid)
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean))
        total += treeCpuSeconds(Number(child))
    }
  } catch {
    // the process ended meanwhile
  }
  return total
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits

export interface Child {
  name: string
  port: number
  child: ChildProcess
  startedAt: number
  stderr: () => string
  stop: () => Promise<void>
}

/** A server child process of the bench (stdout ignored, stderr kept for the error message). */
export function startChild(name: string, args: string[], env: Record<string, string>, port: number): Child {
  const startedAt = performance.now()
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
    startedAt,
    stderr: () => stderr,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

/** Polls `probe` every 20 ms until it answers 2xx; returns ms from spawn to ready. */
export async function waitReady(side: Child, probe: string, timeoutMs = 120_000): Promise<number> {
  for (;;) {
    if (performance.now() - side.startedAt > timeoutMs || side.child.exitCode !== null)
      throw new Error(`${side.name} did not start:\n${side.stderr()}`)
    if (
      await fetch(`http://127.0.0.1:${side.port}${probe}`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return performance.now() - side.startedAt
    await new Promise((r) => setTimeout(r, 20))
  }
}

export interface Backend {
  label: string
  databaseUrl?: string
  redisUrl?: string
}

/**
 * `portcullis serve` as a child process on a fresh data directory, applying `doc` (an import
 * document) at start (`undefined`: none). `dir` may be given to start again on an existing embedded database.
 */
export async function startPortcullis(
  backend: Backend,
  doc: unknown,
  opts: { dir?: string; args?: string[]; env?: Record<string, string> } = {},
) {
  const dir = opts.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'pc-bench-')))
  const importFile = path.join(dir, 'bench.json')
  if (doc !== undefined) await fs.writeFile(importFile, JSON.stringify(doc))
  const port = await freePort()
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? []
  const side = startChild(
    'portcullis',
    [...nodeArgs, 'bin/portcullis.mjs', 'serve', ...(opts.args ?? [])],
    {
      DATA_DIR: dir,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      LOG_LEVEL: 'warn',
      ...(doc !== undefined ? { PORTCULLIS_IMPORT: importFile } : {}),
      ...(backend.databaseUrl ? { DATABASE_URL: backend.databaseUrl, PORTCULLIS_MASTER_KEY: MASTER_KEY } : {}),
      ...(backend.redisUrl
        ? { REDIS_URL: backend.redisUrl, REDIS_PREFIX: `pc-bench-${crypto.randomBytes(4).toString('hex')}:` }
        : {}),
      ...opts.env,
    },
    port,
  )
  let readyMs: number
  try {
    readyMs = await waitReady(side, '/readyz')
  } catch (err) {
    await side.stop()
    if (!opts.dir) await fs.rm(dir, { recursive: true, force: true })
    throw err
  }
  return { ...side, dir, readyMs, readyCpuSeconds: treeCpuSeconds(side.child.pid!), url: `http://127.0.0.1:${port}` }
}
const MASTER_KEY = crypto.randomBytes(32).toString('base64')

/** The backends of a run: SQLite always, PostgreSQL + Redis (a database of its own) when configured and not `smoke`. */
export async function backends(smoke: boolean): Promise<Array<Backend & { drop?: () => Promise<void> }>> {
  const out: Array<Backend & { drop?: () => Promise<void> }> = [{ label: 'SQLite' }]
  if (smoke) return out
  if (process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL) {
    const { createTestDatabase } = await import('../src/db/testing.ts')
    const db = await createTestDatabase('postgresql')
    out.push({
      label: 'PostgreSQL + Redis',
      databaseUrl: db.url,
      redisUrl: process.env.TEST_REDIS_URL,
      drop: () => db.drop(),
    })
  } else {
    console.warn('PostgreSQL + Redis skipped: set TEST_DATABASE_URL and TEST_REDIS_URL')
  }
  return out
}

/** Replaces (or appends) the section between `<!-- name:begin -->` and `<!-- name:end -->` of bench/RESULTS.md. */
export async function writeSection(name: string, body: string) {
  const file = 'bench/RESULTS.md'
  const section = `<!-- ${name}:begin -->\n${body.trim()}\n<!-- ${name}:end -->`
  const current = await fs.readFile(file, 'utf8').catch(() => '# Benchmark results\n')
  const re = new RegExp(`<!-- ${name}:begin -->[\\s\\S]*<!-- ${name}:end -->`)
  await fs.writeFile(
    file,
    re.test(current) ? current.replace(re, () => section) : `${current.trimEnd()}\n\n${section}\n`,
  )
}

export const machineLine = () =>
  `${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs, load average ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`

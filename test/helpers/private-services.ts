import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from './server.ts'

/**
 * PostgreSQL and Redis servers a fault suite starts for itself on private ports, so it can stop,
 * freeze (SIGSTOP) and restart them without touching the machine's shared servers (5432/6379).
 * initdb refuses to run as root: as root the cluster belongs to the `postgres` user and every
 * pg_ctl call runs through `runuser`.
 */

function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return undefined
  const versions = fs
    .readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  for (const v of versions) {
    const bin = path.join(root, v, 'bin')
    if (fs.existsSync(path.join(bin, 'initdb')) && fs.existsSync(path.join(bin, 'pg_ctl'))) return bin
  }
  return undefined
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = path.join(dir, cmd)
    if (fs.existsSync(p)) return p
  }
  return undefined
}

const isRoot = () => process.getuid?.() === 0

/** Why the fault suites cannot run here, or undefined when they can. */
export function missingServices(): string | undefined {
  if (process.platform !== 'linux') return 'fault suites need Linux (signals to server processes)'
  if (!pgBinDir()) return 'PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin'
  if (!which('redis-server')) return 'redis-server not found on PATH'
  if (isRoot()) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' })
    } catch {
      return 'running as root without a `postgres` user to own the private cluster'
    }
    if (!which('runuser')) return 'running as root without runuser'
  }
  return undefined
}

/** Runs a PostgreSQL tool as the cluster owner. */
function pgTool(tool: string, args: string[], opts: { timeout?: number } = {}) {
  const bin = path.join(pgBinDir()!, tool)
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args]
  return execFileSync(cmd, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: opts.timeout ?? 60_000,
    encoding: 'utf8',
  })
}

/** Every process of a server: the main pid and (for PostgreSQL) its backends and workers. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8')
      // the command name may hold spaces and parentheses: the ppid follows the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // the process ended while we looked
    }
  }
  const all = [pid]
  for (let i = 0; i < all.length; i++) all.push(...(children.get(all[i]!) ?? []))
  return all
}

function signalTree(pid: number, signal: NodeJS.Signals) {
  for (const p of processTree(pid)) {
    try {
      process.kill(p, signal)
    } catch {
      // already gone
    }
  }
}

export interface PrivatePostgres {
  port: number
  /** a URL for a fresh database `portcullis` on this server */
  url: string
  start(): Promise<void>
  stop(): Promise<void>
  /** SIGSTOP the postmaster and every backend: connections stay open, nothing answers */
  freeze(): void
  thaw(): void
  /** stop the server and remove its data directory */
  destroy(): Promise<void>
}

/** initdb a throwaway cluster on a free port (not started; call start()). */
export async function createPostgres(): Promise<PrivatePostgres> {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-fault-pg-'))
  const data = path.join(dir, 'data')
  fs.mkdirSync(data)
  if (isRoot()) execFileSync('chown', ['-R', 'postgres:', dir])
  fs.chmodSync(dir, 0o755)
  pgTool('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C'])
  // A private socket directory and no fsync: a test cluster, thrown away afterwards.
  fs.appendFileSync(
    path.join(data, 'postgresql.conf'),
    `\nport = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nmax_connections = 50\nshared_buffers = 16MB\n`,
  )
  let created = false
  // If the test process dies without its afterAll, do not leave a server running.
  process.once('exit', () => {
    const p = pid()
    if (p) signalTree(p, 'SIGKILL')
  })
  const pid = () => {
    try {
      return Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0])
    } catch {
      return undefined
    }
  }
  const pg: PrivatePostgres = {
    port,
    url: `postgresql://postgres@127.0.0.1:${port}/portcullis`,
    async start() {
      pgTool('pg_ctl', ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', 'start'], { timeout: 70_000 })
      if (!created) {
        pgTool('psql', [
          '-h',
          '127.0.0.1',
          '-p',
          String(port),
          '-U',
          'postgres',
          '-d',
          'postgres',
          '-q',
          '-c',
          'CREATE DATABASE portcullis',
        ])
        created = true
      }
    },
    async stop() {
      const p = pid()
      if (p) signalTree(p, 'SIGCONT') // a frozen server cannot stop
      pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop'], { timeout: 40_000 })
    },
    freeze() {
      const p = pid()
      if (p) signalTree(p, 'SIGSTOP')
    },
    thaw() {
      const p = pid()
      if (p) signalTree(p, 'SIGCONT')
    },
    async destroy() {
      const p = pid()
      if (p) {
        signalTree(p, 'SIGCONT')
        try {
          pgTool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop'], { timeout: 40_000 })
        } catch {
          signalTree(p, 'SIGKILL')
        }
      }
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
  return pg
}

export interface PrivateRedis {
  port: number
  url: string
  start(): Promise<void>
  stop(): Promise<void>
  freeze(): void
  thaw(): void
  destroy(): Promise<void>
}

/** A redis-server without persistence on a free port (not started; call start()). */
export async function createRedis(): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const r: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      )
      const started = child
      process.once('exit', () => started.kill('SIGKILL')) // if the test process dies without its afterAll
      let out = ''
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 20_000)
        child!.stdout!.on('data', (d: Buffer) => {
          out += d
          if (/Ready to accept connections/.test(out)) {
            clearTimeout(timer)
            resolve()
          }
        })
        child!.once('exit', (code) => {
          clearTimeout(timer)
          reject(new Error(`redis-server exited (${code}): ${out}`))
        })
      })
      child.stdout!.resume()
      child.stderr!.resume()
    },
    async stop() {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null) return
      c.kill('SIGCONT')
      const exited = new Promise((resolve) => c.once('exit', resolve))
      c.kill('SIGKILL')
      await exited
    },
    freeze() {
      child?.kill('SIGSTOP')
    },
    thaw() {
      child?.kill('SIGCONT')
    },
    async destroy() {
      await r.stop()
    },
  }
  return r
}

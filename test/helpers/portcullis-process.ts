import { spawn, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { BIN } from './cli.ts'
import { freePort } from './server.ts'

/**
 * `portcullis serve` in its own process, as operators run it (`node bin/portcullis.mjs serve`),
 * for suites that signal it, starve it of its database or watch it exit. Its JSON log lines are
 * collected; stop() and the suites' afterAll always reap it.
 */
export interface PortcullisProcess {
  url: string
  port: number
  child: ChildProcess
  /** every stdout/stderr line so far */
  lines: string[]
  /** parsed JSON log lines */
  logs(): Record<string, unknown>[]
  /** resolves with the first log line whose msg matches (rejects after `ms` or on exit) */
  waitForLog(msg: RegExp, ms?: number): Promise<Record<string, unknown>>
  /** polls GET path until it answers `status` (rejects after `ms`) */
  waitForStatus(path: string, status: number, ms?: number): Promise<void>
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** SIGKILL if still running, remove the data dir */
  stop(): Promise<void>
}

export async function spawnPortcullis(
  env: Record<string, string>,
  opts: { args?: string[] } = {},
): Promise<PortcullisProcess> {
  const port = await freePort()
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-proc-'))
  const url = `http://127.0.0.1:${port}`
  const child = spawn(process.execPath, [BIN, 'serve', ...(opts.args ?? [])], {
    env: {
      PATH: process.env.PATH!,
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      DATA_DIR: dataDir,
      PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
      PORTCULLIS_ADMIN_EMAIL: 'admin@example.com',
      PORTCULLIS_ADMIN_PASSWORD: 'fault-suite-admin-password',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // with --workers, its own process group, so stop() can reach the cluster workers too
    detached: Boolean(opts.args?.length),
  })
  const lines: string[] = []
  const listeners = new Set<() => void>()
  for (const stream of [child.stdout!, child.stderr!]) {
    let partial = ''
    stream.on('data', (d: Buffer) => {
      const parts = (partial + d.toString('utf8')).split('\n')
      partial = parts.pop()!
      lines.push(...parts.filter(Boolean))
      for (const l of listeners) l()
    })
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const l of listeners) l()
      resolve({ code, signal })
    })
  })
  const logs = () =>
    lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>]
      } catch {
        return []
      }
    })
  const p: PortcullisProcess = {
    url,
    port,
    child,
    lines,
    logs,
    waitForLog(msg, ms = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs().find((l) => typeof l.msg === 'string' && msg.test(l.msg))
          if (hit) return done(() => resolve(hit))
          if (child.exitCode !== null || child.signalCode !== null)
            done(() => reject(new Error(`portcullis exited before logging ${msg}:\n${lines.slice(-20).join('\n')}`)))
        }
        const timer = setTimeout(
          () => done(() => reject(new Error(`no log line ${msg} within ${ms} ms:\n${lines.slice(-20).join('\n')}`))),
          ms,
        )
        const done = (f: () => void) => {
          clearTimeout(timer)
          listeners.delete(check)
          f()
        }
        listeners.add(check)
        check()
      })
    },
    async waitForStatus(pathname, status, ms = 60_000) {
      const deadline = Date.now() + ms
      let last = ''
      while (Date.now() < deadline) {
        if (child.exitCode !== null)
          throw new Error(`portcullis exited (${child.exitCode}):\n${lines.slice(-20).join('\n')}`)
        try {
          const res = await fetch(`${url}${pathname}`, { signal: AbortSignal.timeout(5000) })
          last = `${res.status} ${await res.text()}`
          if (res.status === status) return
        } catch (err) {
          last = String(err)
        }
        await new Promise((r) => setTimeout(r, 200))
      }
      throw new Error(`GET ${pathname} did not answer ${status} within ${ms} ms (last: ${last})`)
    },
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
      // cluster workers (serve --workers) left behind by a killed primary
      try {
        if (opts.args?.length) process.kill(-child.pid!, 'SIGKILL')
      } catch {
        // the group is gone already
      }
      fs.rmSync(dataDir, { recursive: true, force: true })
    },
  }
  return p
}

/** Writes a configuration document for PORTCULLIS_IMPORT into a temp file; returns its path. */
export function importFile(doc: unknown): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-import-'))
  const file = path.join(dir, 'import.json')
  fs.writeFileSync(file, JSON.stringify(doc))
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

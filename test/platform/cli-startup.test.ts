import { spawn } from 'node:child_process'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/server.ts'
import { runCli } from '../helpers/cli.ts'

let dir: string
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-startup-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

/** every command and subcommand `portcullis` runs; `help` must name each one */
const COMMANDS = [
  'serve',
  'migrate',
  'import FILE',
  'export',
  'keys list',
  'keys rotate',
  'policy test FILE',
  'policy apply FILE',
  'audit verify',
  'audit export',
  'audit prune',
  'audit checkpoint',
  'report',
  'apikeys create',
  'apikeys list',
  'apikeys rotate ID',
  'apikeys revoke ID',
  'admin unlock EMAIL',
  'admin require-mfa',
  'admin disable EMAIL',
  'admin enable EMAIL',
  'admin create-user EMAIL',
  'admin reset-mfa EMAIL',
  'admin reset-password EMAIL',
  'admin create-client ID',
  'admin grant-role',
  'admin revoke-role',
  'help',
]

describe('commands that need no configuration', () => {
  it('help lists every command and touches no data directory, database or master key', async () => {
    const cwd = await fs.mkdtemp(path.join(dir, 'help-'))
    const r = await runCli(['help'], {}, { cwd })
    expect(r.code).toBe(0)
    for (const command of COMMANDS) expect(r.stdout).toContain(`  ${command}`)
    expect(r.stderr).toBe('')
    // DATA_DIR defaults to ./data: nothing was created there (no SQLite file, no master.key)
    expect(await fs.readdir(cwd)).toEqual([])
  })

  it('an unknown command is named with the usage (exit 2), even when the configuration is broken', async () => {
    const cwd = await fs.mkdtemp(path.join(dir, 'unknown-'))
    const r = await runCli(['frobnicate'], { DATABASE_URL: 'not a database url' }, { cwd })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('unknown command frobnicate')
    expect(r.stderr).toContain('usage: portcullis <command>')
    expect(await fs.readdir(cwd)).toEqual([])
  })
})

describe('bin/portcullis.mjs', () => {
  /**
   * A stand-in checkout: the real bin script, node_modules (for tsx), and a src/ and dist/ whose
   * main modules say which one ran. The .ts one uses a type annotation, so it only runs through
   * the TypeScript loader.
   */
  async function checkout() {
    const root = await fs.mkdtemp(path.join(dir, 'checkout-'))
    await fs.mkdir(path.join(root, 'bin'))
    await fs.copyFile(path.resolve('bin/portcullis.mjs'), path.join(root, 'bin/portcullis.mjs'))
    await fs.symlink(path.resolve('node_modules'), path.join(root, 'node_modules'))
    await fs.writeFile(path.join(root, 'package.json'), '{ "type": "module" }\n')
    await fs.mkdir(path.join(root, 'src/views'), { recursive: true })
    await fs.writeFile(path.join(root, 'src/main.ts'), `const from: string = 'source'\nprocess.stdout.write(from)\n`)
    await fs.writeFile(path.join(root, 'src/views/style.css'), 'body {}\n')
    await fs.mkdir(path.join(root, 'dist'))
    await fs.writeFile(path.join(root, 'dist/main.js'), `process.stdout.write('compiled')\n`)
    // sources written a minute before the build, as after `npm ci`
    const before = new Date(Date.now() - 60_000)
    for (const f of ['src/main.ts', 'src/views/style.css']) await fs.utimes(path.join(root, f), before, before)
    await fs.writeFile(path.join(root, 'dist/.build.json'), JSON.stringify({ builtAt: Date.now() - 30_000, files: 2 }))
    const run = async (env: Record<string, string> = {}) => {
      const r = await runCli([], env, { bin: path.join(root, 'bin/portcullis.mjs') })
      expect(r.stderr).toBe('')
      return r.stdout
    }
    return { root, run, before }
  }

  it('runs the compiled build while it is current, and the sources once any source is edited, added or removed', async () => {
    const { root, run, before } = await checkout()
    expect(await run()).toBe('compiled')
    expect(await run({ PORTCULLIS_FROM_SOURCE: '1' })).toBe('source')

    await fs.utimes(path.join(root, 'src/views/style.css'), new Date(), new Date()) // edited after the build
    expect(await run()).toBe('source')
    await fs.utimes(path.join(root, 'src/views/style.css'), before, before)
    expect(await run()).toBe('compiled')

    await fs.writeFile(path.join(root, 'src/extra.ts'), 'export {}\n') // a file added (old mtime)
    await fs.utimes(path.join(root, 'src/extra.ts'), before, before)
    expect(await run()).toBe('source')
    await fs.rm(path.join(root, 'src/extra.ts'))
    expect(await run()).toBe('compiled')

    await fs.rm(path.join(root, 'src/views/style.css')) // a file removed
    expect(await run()).toBe('source')
  })

  it('runs the sources when there is no build', async () => {
    const { root, run } = await checkout()
    await fs.rm(path.join(root, 'dist'), { recursive: true })
    expect(await run()).toBe('source')
  })
})

/** state of a process from /proc: undefined once it is gone (a zombie counts as gone) */
async function processState(pid: number) {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined)
  const state = stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[0]
  return state === undefined || state === 'Z' ? undefined : state
}

/** every live process below `pid` (npm -> sh -> node ...) */
async function descendants(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>()
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '')
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    children.set(ppid, [...(children.get(ppid) ?? []), Number(name)])
  }
  const found: number[] = []
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      found.push(c)
      walk(c)
    }
  }
  walk(pid)
  return found
}

const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy()
      resolve(true)
    })
    s.on('error', () => resolve(false))
  })

describe.skipIf(process.platform !== 'linux')('npm start under a supervisor', () => {
  const started: number[] = []
  afterAll(async () => {
    // whatever a failed run left behind, by process id
    for (const pid of started) if (await processState(pid)) process.kill(pid, 'SIGKILL')
  })

  it(
    'SIGTERM to the npm process stops the server: the port closes and no process stays behind',
    { timeout: 180_000 },
    async () => {
      const port = await freePort()
      const env = {
        PATH: process.env.PATH!,
        HOME: process.env.HOME ?? dir,
        DATA_DIR: path.join(dir, 'npm-start'),
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
      }
      const npm = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      started.push(npm.pid!)
      let output = ''
      npm.stdout.on('data', (d) => (output += d))
      npm.stderr.on('data', (d) => (output += d))
      const npmExited = new Promise<void>((resolve) => npm.on('exit', () => resolve()))

      await expect
        .poll(
          async () => {
            const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
            return r?.status
          },
          { timeout: 120_000, interval: 250 },
        )
        .toBe(200)
      const below = await descendants(npm.pid!)
      started.push(...below)
      const commands = await Promise.all(below.map((p) => fs.readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '')))
      expect(
        commands.some((c) => c.includes('portcullis.mjs')),
        `the server runs below npm:\n${commands.join('\n')}`,
      ).toBe(true)

      npm.kill('SIGTERM') // what a supervisor (systemd, Docker, a process manager) sends
      await npmExited
      await expect
        .poll(async () => (await Promise.all(below.map(processState))).filter(Boolean).length, {
          timeout: 30_000,
          interval: 200,
        })
        .toBe(0)
      expect(await answers(port), output).toBe(false)
    },
  )
})

import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../helpers/server.ts'
import { BIN, runCli } from '../helpers/cli.ts'

let dir: string

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-cli-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const run = runCli

/** Starts `portcullis serve` and resolves once it logs that it listens. */
async function serve(env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d) => (out.stdout += d))
  child.stderr!.on('data', (d) => (out.stderr += d))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out.stdout}\n${out.stderr}`)), 30_000)
    const check = () => {
      if (out.stdout.includes('portcullis listening')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout!.on('data', check)
    child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out.stdout}\n${out.stderr}`)))
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, out, exited }
}

const stop = async (s: { child: ChildProcess; exited: Promise<number | null> }) => {
  s.child.kill('SIGTERM')
  return s.exited
}

describe('the portcullis command', () => {
  it('starts with no configuration but a data dir, bootstraps once, and reuses keys and users on the next start', async () => {
    const port = await freePort()
    const env = { DATA_DIR: path.join(dir, 'embedded'), PORT: String(port), HOST: '127.0.0.1' }

    const first = await serve(env)
    const password = /one-time password: (\S+)/.exec(first.out.stderr)?.[1]
    expect(password, 'the first start prints a one-time admin password').toBeTruthy()
    // The password goes to the terminal, never to the JSON log.
    expect(first.out.stdout).not.toContain(password!)
    expect(first.out.stderr + first.out.stdout).toMatch(/No PORTCULLIS_MASTER_KEY set/)
    expect((await fs.stat(path.join(env.DATA_DIR, 'master.key'))).mode & 0o777).toBe(0o600)

    const discovery = (await (await fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`)).json()) as {
      issuer: string
      jwks_uri: string
    }
    expect(discovery.issuer).toBe(`http://localhost:${port}`)
    const jwks1 = (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as {
      keys: { kid: string; alg: string }[]
    }
    expect(jwks1.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)

    expect(await stop(first)).toBe(0)
    expect(first.out.stdout).toContain('shutdown complete')

    const second = await serve(env)
    expect(second.out.stderr).not.toMatch(/one-time password/)
    const jwks2 = (await (await fetch(`http://127.0.0.1:${port}/jwks`)).json()) as { keys: { kid: string }[] }
    expect(jwks2.keys.map((k) => k.kid)).toEqual(jwks1.keys.map((k) => k.kid))
    expect(await stop(second)).toBe(0)

    // the start created the built-in `system` store with admin granted to the bootstrap
    // administrator, who is its only admin and so cannot lose the role
    const last = await run(['admin', 'revoke-role', 'admin@localhost', 'admin'], env)
    expect(last.code).toBe(2)
    expect(last.stderr).toMatch(/no enabled user with the admin role/)
  }, 90_000)

  it('refuses a bad configuration value, naming the variable', async () => {
    const r = await run(['serve'], { DATA_DIR: path.join(dir, 'bad'), PORT: 'eighty' })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/PORT/)
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/) // a message, not a stack trace
  })

  it('imports a file, rejects an invalid one with every problem, exports without secrets, rotates keys', async () => {
    const env = { DATA_DIR: path.join(dir, 'ops'), LOG_LEVEL: 'silent' }
    const good = path.join(dir, 'good.yaml')
    await fs.writeFile(
      good,
      'clients:\n  - client_id: svc\n    client_secret: svc-secret-0123456789\n    grant_types: [client_credentials]\n    response_types: []\nusers:\n  - email: ops@example.com\n    password: quiet river lamp orbit\n',
    )
    const imported = await run(['import', good], env)
    expect(imported.stderr).toBe('')
    expect(imported.code).toBe(0)
    expect(imported.stdout).toContain('1 client(s), 1 user(s)')

    const bad = path.join(dir, 'bad.json')
    await fs.writeFile(bad, JSON.stringify({ users: [{ email: 'nope' }], clients: [{ client_id: 'x' }] }))
    const rejected = await run(['import', bad], env)
    expect(rejected.code).toBe(2)
    expect(rejected.stderr).toContain('users.0.email')
    expect(rejected.stderr).toContain('clients.0.client_secret')

    const exported = await run(['export', '--format', 'json'], env)
    expect(exported.code).toBe(0)
    const doc = JSON.parse(exported.stdout)
    expect(doc.clients[0].client_id).toBe('svc')
    expect(exported.stdout).not.toMatch(/svc-secret|argon2|password/)

    // a generation: three signing keys and the request-object encryption key
    const before = await run(['keys', 'list'], env)
    expect(before.stdout.match(/^active/gm)).toHaveLength(4)
    const rotated = await run(['keys', 'rotate'], env)
    expect(rotated.code).toBe(0)
    const after = await run(['keys', 'list'], env)
    expect(after.stdout.match(/^active/gm)).toHaveLength(4)
    expect(after.stdout.match(/^retiring/gm)).toHaveLength(4)
    expect(after.stdout).toMatch(/^active\s.*RSA-OAEP-256/m)
  }, 90_000)
})

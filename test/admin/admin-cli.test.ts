import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/env.ts'
import { createContainer, type Container } from '../../src/container.ts'
import { createLogger } from '../../src/logger.ts'
import { createTestDatabase, type TestDatabase } from '../../src/db/testing.ts'
import { verifyPassword } from '../../src/identity/passwords.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { runCli } from '../helpers/cli.ts'

/**
 * CLI parity (issue 12 §4): break-glass administration with the real `portcullis admin ...`
 * command on a database no server has bootstrapped, checked through the services afterwards.
 */
describeOnBackends('admin-cli.test.ts', 'portcullis admin (break-glass)', ({ kind }) => {
  let db: TestDatabase
  let dataDir: string
  const masterKey = crypto.randomBytes(32).toString('base64')
  const env = () => ({ DATABASE_URL: db.url, PORTCULLIS_MASTER_KEY: masterKey, DATA_DIR: dataDir, LOG_LEVEL: 'silent' })
  const cli = (...args: string[]) => runCli(args, env())
  /** Opens the same deployment's services to check what the commands did. */
  async function inspect<T>(fn: (c: Container) => Promise<T>): Promise<T> {
    const c = await createContainer(loadConfig({ NODE_ENV: 'test', ...env() }), { logger: createLogger('silent') })
    try {
      return await fn(c)
    } finally {
      await c.close()
    }
  }
  const oneLineAfter = (text: string, marker: RegExp) =>
    text.split('\n')[text.split('\n').findIndex((l) => marker.test(l)) + 1]!.trim()

  beforeAll(async () => {
    db = await createTestDatabase(kind)
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-admin-cli-'))
  })
  afterAll(async () => {
    await db?.drop()
    await fs.rm(dataDir, { recursive: true, force: true })
  })

  it('creates a user with a one-time password and makes them the first administrator', async () => {
    const created = await cli('admin', 'create-user', 'Root@Example.com', '--role', 'reader', '--role', 'ops')
    expect(created.stderr).toBe('')
    expect(created.code).toBe(0)
    const password = oneLineAfter(created.stdout, /one-time password/)
    const granted = await cli('admin', 'grant-role', 'root@example.com', 'admin')
    expect(granted).toMatchObject({ code: 0, stdout: expect.stringContaining('admin granted to root@example.com') })
    await inspect(async (c) => {
      const login = await c.users.login('root@example.com', password)
      expect(login).toMatchObject({ ok: true, user: { mustChangePassword: true, roles: ['reader', 'ops'] } })
      const { adminServices } = await import('../../src/admin/service.ts')
      const a = adminServices(c)
      expect(await a.authority.may({ kind: 'user', id: login.ok ? login.user.id : '' }, 'roles:grant')).toBe(true)
      expect((await c.queries.audit.list({ action: 'user.created' }))[0]).toMatchObject({ actor: 'cli' })
    })
  }, 240_000)

  it('invites, grants and revokes roles; refuses to remove the last administrator', async () => {
    const invited = await cli('admin', 'create-user', 'ivy@example.com', '--invite')
    expect(invited.code).toBe(0)
    expect(oneLineAfter(invited.stdout, /invitation link/)).toMatch(
      /^http:\/\/localhost:3000\/password\/reset\?token=[\w.~-]{20,}$/,
    )
    expect(invited.stdout).not.toMatch(/one-time password/) // an invitation, no initial password
    expect(await cli('admin', 'grant-role', 'ivy@example.com', 'helpdesk')).toMatchObject({
      code: 0,
      stdout: 'granted helpdesk to ivy@example.com\n',
    })
    expect(await cli('admin', 'revoke-role', 'ivy@example.com', 'helpdesk')).toMatchObject({
      code: 0,
      stdout: 'revoked helpdesk from ivy@example.com\n',
    })
    const last = await cli('admin', 'revoke-role', 'root@example.com', 'admin')
    expect(last.code).toBe(2)
    expect(last.stderr).toMatch(/no enabled user with the admin role/)
    const unknown = await cli('admin', 'grant-role', 'ivy@example.com', 'superuser')
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/unknown admin role superuser/)
    expect((await cli('admin', 'create-user')).code).toBe(2)
    expect((await cli('admin', 'reset-mfa', 'nobody@example.com')).stderr).toMatch(/no user nobody@example.com/)
  }, 240_000)

  it('resets a password and MFA; unlock and disable still work', async () => {
    const reset = await cli('admin', 'reset-password', 'root@example.com')
    expect(reset.code).toBe(0)
    const temporary = oneLineAfter(reset.stdout, /temporary password/)
    const mfa = await cli('admin', 'reset-mfa', 'root@example.com')
    expect(mfa).toMatchObject({ code: 0, stdout: expect.stringContaining('removed 0 second factor(s)') })
    expect((await cli('admin', 'unlock', 'root@example.com')).code).toBe(0)
    expect((await cli('admin', 'disable', 'ivy@example.com')).stdout).toMatch(/^disabled ivy@example.com/)
    const lastAdmin = await cli('admin', 'disable', 'root@example.com')
    expect(lastAdmin.code).toBe(2)
    expect(lastAdmin.stderr).toMatch(/no enabled user with the admin role/)
    await inspect(async (c) => {
      expect(await c.users.login('root@example.com', temporary)).toMatchObject({
        ok: true,
        user: { mustChangePassword: true },
      })
      expect((await c.users.findByEmail('ivy@example.com'))!.disabled).toBe(true)
      expect((await c.queries.audit.list({ action: 'user.password_reset' }))[0]).toMatchObject({ actor: 'cli' })
    })
  }, 240_000)

  it('creates clients and prints the secret once', async () => {
    const svc = await cli('admin', 'create-client', 'svc')
    expect(svc.code).toBe(0)
    const secret = oneLineAfter(svc.stdout, /client secret/)
    const web = await cli(
      'admin',
      'create-client',
      'web',
      '--redirect-uri',
      'https://app.example/cb',
      '--scope',
      'openid',
      '--scope',
      'email',
    )
    expect(web.code).toBe(0)
    const bad = await cli('admin', 'create-client', 'broken', '--redirect-uri', 'not a url')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/invalid input: metadata: /)
    await inspect(async (c) => {
      expect(await verifyPassword((await c.clients.find('svc'))!.secretHash!, secret)).toBe(true)
      expect((await c.clients.find('svc'))!.metadata.grant_types).toEqual(['client_credentials'])
      expect((await c.clients.find('web'))!.metadata).toMatchObject({
        redirect_uris: ['https://app.example/cb'],
        scope: 'openid email',
      })
      expect(await c.clients.find('broken')).toBeNull()
      expect(JSON.stringify(await c.queries.audit.list({ action: 'client.created' }))).not.toContain(secret)
    })
    expect((await cli('admin', 'grant-role', 'client:svc', 'client-manager')).stdout).toBe(
      'granted client-manager to client:svc\n',
    )
  }, 240_000)

  it('rotates the signing keys (admin rotate-keys): a new signer, the old ones retiring, audited', async () => {
    const before = await inspect(async (c) =>
      (await c.keys.list()).filter((k) => k.status === 'active').map((k) => k.kid),
    )
    const r = await cli('admin', 'rotate-keys')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^new signing keys: RS256 \S+, ES256 \S+, EdDSA \S+/)
    await inspect(async (c) => {
      const keys = await c.keys.list()
      for (const kid of before) expect(keys.find((k) => k.kid === kid)?.status).toBe('retiring')
      // three signing keys (RS256, ES256, EdDSA) and the encryption key (RSA-OAEP-256, request objects)
      expect(
        keys
          .filter((k) => k.status === 'active')
          .map((k) => k.alg)
          .sort(),
      ).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
      expect((await c.queries.audit.list({ action: 'keys.rotated' }))[0]).toMatchObject({ actor: 'cli' })
    })
  }, 240_000)
})

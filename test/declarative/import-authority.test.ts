import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { importFile, type Problem } from '../../src/declarative/apply.ts'
import { AppError } from '../../src/errors.ts'
import { hashPassword } from '../../src/identity/passwords.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, formAction, signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * Issue 10 §1, the import file: unknown client keys are errors (nothing applied), and an
 * import never undoes a user's own change — passwords, password hashes and TOTP secrets are
 * initial values; `reset_password` forces the file's password and a change at the next
 * sign-in; every credential change an import makes is an audit event of its own.
 */

const CALLBACK = 'https://app.example.com/cb'
const FILE_PASSWORD = 'quiet river lamp orbit'
const USER_PASSWORD = 'my own chosen passphrase'
const RESET_PASSWORD = 'temporary reset phrase here'
const TOTP = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'

describeOnBackends('import-authority.test.ts', 'import authority', ({ kind, redisUrl }) => {
  let server: TestServer
  let dir: string
  const write = async (name: string, doc: unknown) => {
    const file = path.join(dir, name)
    await fs.writeFile(file, YAML.stringify(doc))
    return file
  }
  const problemsOf = async (file: string) => {
    const err = await importFile(server.container, file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    return (err as AppError).details as Problem[]
  }
  const events = async (action: string, email: string) =>
    (await server.container.audit.list({ action })).filter((e) => (e.details as { email?: string }).email === email)

  const web = {
    client_id: 'web',
    client_secret: 'web-secret-0123456789abcdef',
    redirect_uris: [CALLBACK],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid',
  }

  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-import-authority-'))
    await importFile(server.container, await write('web.yaml', { clients: [web] }))
  })
  afterAll(async () => {
    await server?.close()
    if (dir) await fs.rm(dir, { recursive: true, force: true })
  })

  it('an unknown client key (scopes: for scope:) is a problem with its path, listed with the others, and nothing is applied; known keys pass', async () => {
    const file = await write('typo.yaml', {
      clients: [
        {
          client_id: 'billing',
          client_secret: 'billing-secret-0123456789',
          grant_types: ['client_credentials'],
          response_types: [],
          scopes: 'orders:read',
        },
        { client_id: 'portal', client_secret: 'portal-secret-0123456789', redirect_uri: [CALLBACK], frobnicate: true },
        {
          client_id: 'blank',
          client_secret: 'blank-secret-0123456789',
          grant_types: ['client_credentials'],
          response_types: [],
          scope: '  ',
        },
      ],
      users: [{ email: 'newbie@example.com', password: FILE_PASSWORD }, { email: 'not-an-email' }],
    })
    const problems = await problemsOf(file)
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: 'clients.0.scopes', message: 'unknown client metadata (did you mean scope?)' },
        { path: 'clients.1.redirect_uri', message: 'unknown client metadata (did you mean redirect_uris?)' },
        { path: 'clients.1.frobnicate', message: 'unknown client metadata' },
        { path: 'clients.2.scope', message: expect.stringMatching(/at least one scope/) },
        expect.objectContaining({ path: 'users.1.email' }),
      ]),
    )
    for (const id of ['billing', 'portal', 'blank']) expect(await server.container.clients.find(id), id).toBeNull()
    expect(await server.container.users.findByEmail('newbie@example.com')).toBeNull()

    // Spelt right, our own client metadata and the RFC 7591 keys oidc-provider knows are accepted.
    const fixed = await write('extras.yaml', {
      clients: [
        {
          client_id: 'rich',
          client_secret: 'rich-secret-0123456789abcdef',
          client_name: 'Rich',
          client_uri: 'https://rich.example.com',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid',
          contacts: ['ops@example.com'],
          default_max_age: 3600,
          require_auth_time: true,
          id_token_signed_response_alg: 'ES256',
          require_pushed_authorization_requests: false,
          dpop_bound_access_tokens: false,
          require_mfa: false,
          allowed_ips: ['192.0.2.0/24'],
          authz_stores: ['orders'],
          resource_servers: ['https://api.example.com'],
        },
      ],
    })
    expect(await importFile(server.container, fixed)).toMatchObject({ clients: 1 })
    expect((await server.container.clients.find('rich'))?.metadata).toMatchObject({
      contacts: ['ops@example.com'],
      require_auth_time: true,
    })
  })

  it("re-importing never undoes the user's own password or second factor; creation is audited", async () => {
    const doc = {
      users: [
        { email: 'ann@example.com', password: FILE_PASSWORD, totp_secret: TOTP },
        { email: 'bob@example.com', password_hash: await hashPassword(FILE_PASSWORD) },
      ],
    }
    await importFile(server.container, await write('users.yaml', doc))
    const c = server.container
    const ann = (await c.users.findByEmail('ann@example.com'))!
    const bob = (await c.users.findByEmail('bob@example.com'))!
    expect(await events('user.password_set_by_import', 'ann@example.com')).toEqual([
      expect.objectContaining({
        actor: 'import',
        target: ann.id,
        details: expect.objectContaining({ reason: 'created' }),
      }),
    ])
    expect(await events('user.password_set_by_import', 'bob@example.com')).toHaveLength(1)
    expect(await events('user.totp_set_by_import', 'ann@example.com')).toHaveLength(1)

    // The users change their own credentials (what the account page does), and Ann removes
    // the authenticator the file gave her.
    await c.users.setPassword(ann.id, USER_PASSWORD)
    await c.users.setPassword(bob.id, USER_PASSWORD)
    const [factor] = await c.login.mfa.list(ann.id)
    await c.login.mfa.remove(ann.id, factor!.id)

    await importFile(c, await write('users-again.yaml', doc))
    for (const email of ['ann@example.com', 'bob@example.com']) {
      expect((await c.users.login(email, USER_PASSWORD)).ok, email).toBe(true)
      expect((await c.users.login(email, FILE_PASSWORD)).ok, email).toBe(false)
      expect((await c.users.findByEmail(email))!.mustChangePassword, email).toBe(false)
      expect(await events('user.password_set_by_import', email), email).toHaveLength(1)
      expect(await events('user.password_reset_by_import', email), email).toEqual([])
    }
    expect(await c.login.mfa.list(ann.id)).toEqual([])
    expect(await events('user.totp_set_by_import', 'ann@example.com')).toHaveLength(1)
  })

  it('reset_password forces the file password, ends sessions, the user must choose a new one at sign-in, and it is audited once', async () => {
    const c = server.container
    const config = await oidc.discovery(
      new URL(server.url),
      'web',
      web.client_secret,
      oidc.ClientSecretBasic(web.client_secret),
      { execute: [oidc.allowInsecureRequests] },
    )
    const authUrl = async () =>
      oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        prompt: 'login',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      })
    // Ann is signed in with the password she chose.
    expect(
      (await signIn(new UserAgent(server.url), await authUrl(), { email: 'ann@example.com', password: USER_PASSWORD }))
        .callback,
    ).toBeTruthy()
    const annId = (await c.users.findByEmail('ann@example.com'))!.id
    expect((await c.login.sessions.list(annId)).length).toBeGreaterThan(0)

    const doc = { users: [{ email: 'ann@example.com', password: RESET_PASSWORD, reset_password: true }] }
    await importFile(c, await write('reset.yaml', doc), 'ops@example.com')
    expect(await c.login.sessions.list(annId)).toEqual([])
    expect((await c.users.login('ann@example.com', RESET_PASSWORD)).ok).toBe(true)
    expect((await c.users.login('ann@example.com', USER_PASSWORD)).ok).toBe(false)
    const ann = (await c.users.findByEmail('ann@example.com'))!
    expect(ann.mustChangePassword).toBe(true)
    expect(await events('user.password_reset_by_import', 'ann@example.com')).toEqual([
      expect.objectContaining({
        actor: 'ops@example.com',
        target: ann.id,
        outcome: 'success',
        details: expect.objectContaining({ change_required: true, sessions_ended: 1 }),
      }),
    ])
    // The same file again, before Ann chose a new password: nothing changes, no new event.
    await importFile(c, await write('reset-again.yaml', doc))
    expect((await c.users.findByEmail('ann@example.com'))!.passwordHash).toBe(ann.passwordHash)
    expect(await events('user.password_reset_by_import', 'ann@example.com')).toHaveLength(1)

    // Signing in with the reset password leads to "Choose a new password", not to the client.
    const ua = new UserAgent(server.url)
    const away = (u: URL) => u.origin !== new URL(server.url).origin
    const login = await ua.follow(await ua.request(await authUrl()), away)
    const html = await login.res!.text()
    const posted = await ua.request(formAction(html, '/login'), {
      form: { csrf: field(html, 'csrf'), email: 'ann@example.com', password: RESET_PASSWORD },
    })
    const next = await ua.follow(posted, away)
    expect(next.res?.status).toBe(200)
    expect(await next.res!.text()).toContain('Choose a new password')
  })

  it('reset_password needs a password to reset to', async () => {
    const problems = await problemsOf(
      await write('reset-bad.yaml', { users: [{ email: 'ann@example.com', reset_password: true }] }),
    )
    expect(problems).toEqual([expect.objectContaining({ path: 'users.0.reset_password' })])
  })
})

import crypto from 'node:crypto'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { adminCommand } from '../../src/identity/cli.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients, untilStatus } from '../helpers/api-client.ts'
import { issue } from '../helpers/apikeys.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'
import { runCli } from '../helpers/cli.ts'

/**
 * `portcullis admin disable|enable EMAIL`, run as the real command against a deployment of two
 * instances: the account cannot sign in, its sessions end, and its API keys stop on the other
 * instance at once (not after the key cache's 60 s); enabling brings all of it back.
 */

const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'amber kettle on a quiet shelf'

describeOnBackends('account-disable.test.ts', 'disabling an account', ({ kind, redisUrl }) => {
  let a: TestServer
  let b: TestServer
  let admin: string
  let web: oidc.Configuration
  const masterKey = crypto.randomBytes(32).toString('base64')

  /** Runs the CLI against the same deployment (database, master key, Redis prefix). */
  const cli = (args: string[]) =>
    runCli(args, {
      DATABASE_URL: a.db.url,
      PORTCULLIS_MASTER_KEY: masterKey,
      DATA_DIR: a.config.DATA_DIR,
      LOG_LEVEL: 'silent',
      ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: a.config.REDIS_PREFIX } : {}),
    })

  const until = (server: TestServer, key: string, status: number) =>
    untilStatus(server, '/authz/v1/stores', key, status)

  const signInAt = async (ua: UserAgent) => {
    const verifier = oidc.randomPKCECodeVerifier()
    const url = oidc.buildAuthorizationUrl(web, {
      redirect_uri: CALLBACK,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    return signIn(ua, url, { email: 'erin@example.com', password: PASSWORD })
  }

  beforeAll(async () => {
    a = await startTestServer({ kind, redisUrl, masterKey })
    b = await startTestServer({
      kind,
      db: a.db,
      masterKey,
      ...(redisUrl ? { redisUrl, env: { REDIS_PREFIX: a.config.REDIS_PREFIX } } : {}),
    })
    await registerServiceClients(a, [{ id: 'root', scope: 'apikeys:admin admin authz:check' }])
    const { doc, problems } = await validateDocument(a.container, {
      clients: [
        {
          client_id: 'web',
          client_secret: 'web-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      users: [{ email: 'erin@example.com', password: PASSWORD, roles: ['authz:check'] }],
    })
    expect(problems).toEqual([])
    await applyDocument(a.container, doc!)
    admin = await apiToken(a, 'root', 'apikeys:admin admin authz:check')
    web = await oidc.discovery(
      new URL(a.url),
      'web',
      'web-secret-0123456789abcdef',
      oidc.ClientSecretBasic('web-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
  })
  afterAll(async () => {
    await b?.close()
    await a?.close()
  })

  it('disable: no sign-in, sessions ended, API keys stop on the other instance at once; enable restores', async () => {
    const erin = (await a.container.users.findByEmail('erin@example.com'))!
    const key = await issue(a, admin, {
      owner: 'user:erin@example.com',
      name: 'laptop',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    for (let i = 0; i < 3; i++) expect((await call(b, 'GET', '/authz/v1/stores', key.key)).status).toBe(200) // cached on B
    const ua = new UserAgent(a.url)
    expect((await signInAt(ua)).callback?.searchParams.get('code')).toBeTruthy()
    expect(await a.container.login.sessions.list(erin.id)).toHaveLength(1)

    const off = await cli(['admin', 'disable', 'Erin@Example.com'])
    expect(off.stderr).not.toMatch(/Error/)
    expect(off.code).toBe(0)
    expect(off.stdout).toContain('disabled erin@example.com: 1 session(s) ended')
    expect(await until(b, key.key, 401)).not.toBe(Infinity)
    const refused = await call(b, 'GET', '/authz/v1/stores', key.key)
    expect(refused.body.error_description).toMatch(/owner of this API key is disabled/)
    expect(await a.container.login.sessions.list(erin.id)).toHaveLength(0)
    // The browser that was signed in must sign in again, and cannot.
    expect((await signInAt(ua)).failed).toBeTruthy()
    expect((await signInAt(new UserAgent(a.url))).failed).toBeTruthy()
    const audit = await a.container.audit.list({ action: 'user.disabled' })
    expect(audit.at(-1)).toMatchObject({
      actor: 'cli',
      target: erin.id,
      details: { email: 'erin@example.com', sessions_ended: 1 },
    })

    expect(await a.container.accounts.disable('erin@example.com', 'test')).toMatchObject({ changed: false })
    const on = await cli(['admin', 'enable', 'erin@example.com'])
    expect(on.code).toBe(0)
    expect(on.stdout).toContain('enabled erin@example.com')
    expect(await until(b, key.key, 200)).not.toBe(Infinity)
    expect((await signInAt(new UserAgent(a.url))).callback?.searchParams.get('code')).toBeTruthy()
    expect((await a.container.audit.list({ action: 'user.enabled' })).at(-1)).toMatchObject({
      actor: 'cli',
      target: erin.id,
    })
  }, 120_000) // two CLI processes start a container each: slow on a loaded machine

  it('an unknown account or a missing email is a usage error naming the problem', async () => {
    // (main.ts turns these 4xx errors into exit code 2 with the message on stderr; cli.test.ts)
    await expect(adminCommand(a.container, ['disable', 'nobody@example.com'])).rejects.toMatchObject({
      status: 404,
      message: 'no user with the email nobody@example.com',
    })
    await expect(adminCommand(a.container, ['enable'])).rejects.toMatchObject({
      status: 400,
      message: 'admin enable needs an EMAIL',
    })
  })
})

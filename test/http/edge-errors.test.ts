import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { rawRequest } from '../helpers/raw-http.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * The hostile inputs issues 13 and 16 name, one by one: each is a 4xx in the shape its
 * endpoint speaks (OAuth error JSON, our JSON error, or an HTML page for browsers), never a
 * 500; and what still fails is logged as one JSON line with the request id.
 */
const SECRET = 'edge-secret-0123456789abcdef'
const PASSWORD = 'lantern orchard maple seven'
const HTML = { accept: 'text/html,application/xhtml+xml' }

async function setup(server: TestServer) {
  const { doc, problems } = await validateDocument(server.container, {
    clients: [
      {
        client_id: 'web',
        client_secret: SECRET,
        redirect_uris: ['https://app.example.com/cb'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid',
      },
    ],
    users: [{ email: 'ann@example.com', password: PASSWORD }],
  })
  expect(problems).toEqual([])
  await applyDocument(server.container, doc!)
  const scope = 'admin authz:admin audit:read'
  await registerServiceClients(server, [{ id: 'root', scope }])
  return apiToken(server, 'root', scope)
}

const form = { 'content-type': 'application/x-www-form-urlencoded' }
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`

describeOnBackends('edge-errors.test.ts', 'hostile input named in the issues', (backend) => {
  let server: TestServer
  let admin: string
  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl })
    admin = await setup(server)
  })
  afterAll(async () => {
    await server?.close()
  })

  it('a typed email with a NUL at sign-in: a 400 page, and the audit log keeps writing', async () => {
    const web = await oidc.discovery(new URL(server.url), 'web', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    const authUrl = oidc.buildAuthorizationUrl(web, {
      redirect_uri: 'https://app.example.com/cb',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    })
    const ua = new UserAgent(server.url)
    const page = await ua.follow(await ua.request(authUrl), () => false)
    const html = await page.res!.text()
    const res = await ua.request(formAction(html, '/login'), {
      form: { csrf: field(html, 'csrf'), email: 'ann@example.com\u0000', password: PASSWORD },
      headers: HTML,
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
    expect(await res.text()).toMatch(/NUL character/)
    await server.container.audit.record({ action: testAction('edge.after'), outcome: 'info', actor: 'ann@example.com' })
    expect(server.container.audit.health().ok).toBe(true)
    expect((await server.container.audit.list({ action: testAction('edge.after') })).length).toBe(1)
  })

  it('client_id with a NUL or invalid UTF-8 at the token endpoint: the OAuth error, in the body or in Basic credentials', async () => {
    for (const body of [
      'grant_type=client_credentials&client_id=web%00&client_secret=x',
      'grant_type=client_credentials&client_id=w%C3%28b&client_secret=x',
    ]) {
      const r = await rawRequest(server.port, 'POST', '/token', form, body)
      expect(r.status).toBe(400)
      expect(JSON.parse(r.body)).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringMatching(/request body/),
      })
    }
    const r = await rawRequest(
      server.port,
      'POST',
      '/token/introspection',
      { ...form, authorization: basic('web%00', 'x') },
      'token=abc',
    )
    expect(r.status).toBe(400)
    expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_request' })
    // inside a JWT, where the edge does not look: a client assertion naming a client with a NUL
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    const assertion = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ iss: 'web\u0000', sub: 'web\u0000', aud: server.url, exp: Math.floor(Date.now() / 1000) + 60, jti: 'j1' })}.c2ln`
    const jwt = await rawRequest(
      server.port,
      'POST',
      '/token',
      form,
      `grant_type=client_credentials&client_assertion_type=${encodeURIComponent('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')}&client_assertion=${assertion}`,
    )
    expect(jwt.status).toBe(401)
    expect(JSON.parse(jwt.body)).toMatchObject({ error: 'invalid_client' })
    // the same client authenticates fine without the hostile byte
    const ok = await rawRequest(
      server.port,
      'POST',
      '/token/introspection',
      { ...form, authorization: basic('web', SECRET) },
      'token=abc',
    )
    expect(ok.status).toBe(200)
  })

  it('a NUL in a store name or an audit filter, and invalid UTF-8 in the account callback state: 400', async () => {
    const auth = { authorization: `Bearer ${admin}` }
    for (const path of ['/authz/v1/stores/a%00b', '/audit/v1/events?actor=%00', '/audit/v1/events?actor=%FF']) {
      const r = await rawRequest(server.port, 'GET', path, auth)
      expect(r.status, path).toBe(400)
      expect(JSON.parse(r.body)).toMatchObject({ error: 'invalid_request' })
    }
    const create = await call(server, 'POST', '/authz/v1/stores', admin, { name: 'a\u0000b', model: 'rbac.conf' })
    expect(create.status).toBe(400)
    expect(create.body.error_description).toMatch(/NUL/)
    const cb = await rawRequest(server.port, 'GET', '/account/callback?state=%C3%28&code=x', HTML)
    expect(cb.status).toBe(400)
    expect(cb.headers['content-type']).toMatch(/text\/html/)
  })

  it('non-ASCII store names: the CSV export is a 404 for a store that does not exist; non-ASCII text where it is allowed is stored and returned', async () => {
    const r = await rawRequest(server.port, 'GET', '/authz/v1/stores/%E4%B8%AD%E6%96%87/versions/1/policy.csv', {
      authorization: `Bearer ${admin}`,
    })
    expect(r.status).toBe(404)
    const made = await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'intl',
      model: 'rbac.conf',
      description: 'Richtlinien für 中文 👩‍💻',
    })
    expect(made.status).toBe(201)
    expect((await call(server, 'GET', '/authz/v1/stores', admin)).body.stores).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'intl', description: 'Richtlinien für 中文 👩‍💻' })]),
    )
    const csv = await rawRequest(server.port, 'GET', `/authz/v1/stores/intl/versions/${made.body.version}/policy.csv`, {
      authorization: `Bearer ${admin}`,
    })
    expect(csv.status).toBe(200)
    expect(csv.headers['content-disposition']).toBe(`attachment; filename="intl-v${made.body.version}.csv"`)
  })

  it('the decision fast lane refuses a NUL in a decision request like the Koa route does', async () => {
    const token = await apiToken(server, 'root', 'admin authz:admin audit:read')
    const body =
      '{"subject":{"type":"user","id":"a\\u0000"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"}}'
    const r = await rawRequest(
      server.port,
      'POST',
      '/access/v1/evaluation',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    )
    expect(r.status).toBe(400)
    expect(JSON.parse(r.body)).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringMatching(/NUL/),
    })
  })

  it('oidc-provider: GET/HEAD /device/auth is a 405, POST /device without its session a 400, never a 500', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await rawRequest(server.port, method, '/device/auth')
      expect(r.status).toBe(405)
      expect(r.headers.allow).toBe('POST, OPTIONS')
      if (method === 'GET')
        expect(JSON.parse(r.body)).toEqual({
          error: 'invalid_request',
          error_description: '/device/auth accepts only POST',
        })
    }
    for (const path of ['/token', '/token/introspection', '/token/revocation', '/request']) {
      expect((await rawRequest(server.port, 'GET', path)).status, path).toBe(405)
    }
    const device = await rawRequest(
      server.port,
      'POST',
      '/device',
      { ...form, ...HTML },
      'xsrf=abc&user_code=ABCD-EFGH',
    )
    expect(device.status).toBe(400)
    expect(device.headers['content-type']).toMatch(/text\/html/)
    // a stale or forged session cookie on a device-resume URL is not a 500 either
    const resume = await rawRequest(server.port, 'GET', '/device/someuid', { cookie: '_session=forged', ...HTML })
    expect(resume.status).toBeGreaterThanOrEqual(400)
    expect(resume.status).toBeLessThan(500)
  })

  it('a Host header with an out-of-range port on discovery, /auth, /device and /session/end: 400', async () => {
    for (const path of [
      '/.well-known/openid-configuration',
      '/auth?client_id=web&response_type=code',
      '/device',
      '/session/end',
    ]) {
      for (const host of ['localhost:99999', 'localhost:65536', 'exa mple.com']) {
        const r = await rawRequest(server.port, 'GET', path, { host })
        expect(r.status, `${host} ${path}`).toBe(400)
        expect(JSON.parse(r.body)).toEqual({
          error: 'invalid_request',
          error_description: 'the Host header is not a valid host[:port]',
        })
      }
    }
    expect(
      (await rawRequest(server.port, 'GET', '/.well-known/openid-configuration', { host: `localhost:${server.port}` }))
        .status,
    ).toBe(200)
  })
})

describe('errors that escape', () => {
  const logs: string[] = []
  let server: TestServer
  let admin: string
  beforeAll(async () => {
    server = await startTestServer({ logSink: logs })
    admin = await setup(server)
  })
  afterAll(async () => {
    await server?.close()
  })

  it('are logged as one JSON line with the request id, and the 500 body carries no internals', async () => {
    const stderr = vi.spyOn(process.stderr, 'write')
    const consoleError = vi.spyOn(console, 'error')
    const db = server.container.db
    // A real fault: the tables behind a policy listing and a client lookup are gone.
    await db.$executeRawUnsafe('ALTER TABLE "PolicyStore" RENAME TO "PolicyStoreAway"')
    await db.$executeRawUnsafe('ALTER TABLE "Client" RENAME TO "ClientAway"')
    try {
      const ours = await rawRequest(server.port, 'GET', '/authz/v1/stores', {
        authorization: `Bearer ${admin}`,
        'x-request-id': 'trace-ours',
      })
      expect(ours.status).toBe(500)
      expect(JSON.parse(ours.body)).toEqual({ error: 'server_error', error_description: 'internal server error' })
      const theirs = await rawRequest(
        server.port,
        'POST',
        '/token',
        { ...form, 'x-request-id': 'trace-oidc' },
        'grant_type=client_credentials&client_id=nobody&client_secret=x',
      )
      expect(theirs.status).toBe(500)
      expect(theirs.body).not.toMatch(/prisma|invocation|ClientAway|no such table|\bat /i)
      expect(ours.body).not.toMatch(/prisma|invocation|PolicyStore|no such table|\bat /i)
    } finally {
      await db.$executeRawUnsafe('ALTER TABLE "PolicyStoreAway" RENAME TO "PolicyStore"')
      await db.$executeRawUnsafe('ALTER TABLE "ClientAway" RENAME TO "Client"')
    }
    const parsed = logs.map(
      (l) => JSON.parse(l) as { level: number; requestId?: string; msg: string; err?: { stack?: string } },
    )
    for (const id of ['trace-ours', 'trace-oidc']) {
      const errors = parsed.filter((l) => l.level >= 50 && l.requestId === id)
      expect(errors, id).toHaveLength(1)
      expect(errors[0]!.err?.stack).toBeTruthy() // the detail is in the log line, not the response
    }
    expect(logs.every((l) => !l.trimEnd().includes('\n'))).toBe(true)
    const printed = [...stderr.mock.calls, ...consoleError.mock.calls].map((c) => String(c[0]))
    expect(printed.filter((p) => /Error|\n\s+at /.test(p))).toEqual([])
    stderr.mockRestore()
    consoleError.mockRestore()
  })
})

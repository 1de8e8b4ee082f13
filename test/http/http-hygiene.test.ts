import net from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { loadConfig } from '../../src/config/env.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * HTTP hygiene on every route, over real HTTP: body limits (413), JSON depth (400), content
 * types (415), duplicate OAuth parameters (RFC 6749 §3.1), slow clients (slowloris) and the
 * security headers on every response, oidc-provider's included.
 */
const CALLBACK = 'https://app.example.com/cb'
const secret = (id: string) => `${id}-secret-0123456789abcdef`
const basic = (id: string) => `Basic ${Buffer.from(`${id}:${secret(id)}`).toString('base64')}`
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

const SECURITY_HEADERS = [
  'content-security-policy',
  'x-frame-options',
  'x-content-type-options',
  'referrer-policy',
  'cross-origin-opener-policy',
]

describeOnBackends('http-hygiene.test.ts', 'HTTP hygiene', ({ kind, redisUrl }) => {
  let server: TestServer
  let checker: string
  let admin: string
  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    await registerServiceClients(server, [{ id: 'svc', scope: 'authz:check authz:admin' }])
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'web',
          client_secret: secret('web'),
          redirect_uris: [CALLBACK],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          scope: 'openid',
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    checker = await apiToken(server, 'svc', 'authz:check')
    admin = await apiToken(server, 'svc', 'authz:admin')
  })
  afterAll(async () => {
    await server?.close()
  })

  const token = (body: string, query = '', headers: Record<string, string> = FORM) =>
    fetch(`${server.url}/token${query}`, { method: 'POST', headers: { authorization: basic('svc'), ...headers }, body })

  describe('OAuth endpoints (RFC 6749)', () => {
    it('a well-formed token request still gets a token', async () => {
      const r = await token('grant_type=client_credentials&scope=authz%3Acheck')
      expect(r.status).toBe(200)
      expect(((await r.json()) as { access_token?: string }).access_token).toBeTruthy()
    })

    it('a parameter in both the query and the body is refused as invalid_request (§3.1)', async () => {
      const r = await token('grant_type=client_credentials&scope=authz%3Acheck', '?scope=authz%3Acheck')
      expect(r.status).toBe(400)
      expect(await r.json()).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('scope'),
      })
      const intro = await fetch(`${server.url}/token/introspection?token=a`, {
        method: 'POST',
        headers: { authorization: basic('svc'), ...FORM },
        body: 'token=b',
      })
      expect(intro.status).toBe(400)
      expect(await intro.json()).toMatchObject({ error: 'invalid_request' })
    })

    it('a repeated parameter is refused on every OAuth endpoint, in the query or the body', async () => {
      const attempts = [
        fetch(`${server.url}/token/revocation`, {
          method: 'POST',
          headers: { authorization: basic('svc'), ...FORM },
          body: 'token=a&token=b',
        }),
        fetch(`${server.url}/request`, {
          method: 'POST',
          headers: { authorization: basic('web'), ...FORM },
          body: `client_id=web&response_type=code&scope=openid&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}`,
        }),
        fetch(`${server.url}/device/auth`, {
          method: 'POST',
          headers: { authorization: basic('web'), ...FORM },
          body: 'client_id=web&client_id=web',
        }),
      ]
      for (const r of await Promise.all(attempts)) {
        expect(r.status).toBe(400)
        expect(await r.json()).toMatchObject({
          error: 'invalid_request',
          error_description: expect.stringMatching(/more than once/),
        })
      }
      // The authorization endpoint refuses them too, through oidc-provider, so that an error for a
      // known client goes back to it by redirect (RFC 6749 §4.1.2.1); an unknown one is a 400 page.
      const unknown = await fetch(`${server.url}/auth?client_id=web&client_id=web&response_type=code`, {
        redirect: 'manual',
      })
      expect(unknown.status).toBe(400)
      expect(await unknown.text()).toMatch(/must not be provided twice/)
      const known = await fetch(
        `${server.url}/auth?client_id=web&response_type=code&scope=openid&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}`,
        { redirect: 'manual' },
      )
      expect(known.status).toBe(303)
      const back = new URL(known.headers.get('location')!)
      expect(back.origin + back.pathname).toBe(CALLBACK)
      expect(back.searchParams.get('error')).toBe('invalid_request')
    })

    it('resource may repeat (RFC 8707 §2): not refused as a duplicate', async () => {
      const r = await token(
        'grant_type=client_credentials&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example',
      )
      const body = (await r.json()) as { error_description?: string }
      expect(body.error_description ?? '').not.toMatch(/more than once/)
    })

    it('a JSON body is a 415 on the token endpoint (form-encoded only, §3.2)', async () => {
      const r = await token(JSON.stringify({ grant_type: 'client_credentials' }), '', {
        'content-type': 'application/json',
      })
      expect(r.status).toBe(415)
      expect(await r.json()).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringContaining('application/x-www-form-urlencoded'),
      })
    })

    it('an oversized body is a 413, and the server keeps answering', async () => {
      const r = await token(`grant_type=client_credentials&pad=${'x'.repeat(100 * 1024)}`)
      expect(r.status).toBe(413)
      expect(await r.json()).toMatchObject({ error: 'invalid_request' })
      expect((await token('grant_type=client_credentials')).status).toBe(200)
    })
  })

  describe('JSON APIs', () => {
    it('a body nested deeper than 32 levels is a 400 naming the depth, on the decision and policy APIs', async () => {
      const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`
      const evaluation = (resource: string) =>
        `{"subject":{"type":"user","id":"a"},"action":{"name":"read"},"resource":{"type":"doc","id":"1","properties":{"x":${resource}}}}`
      const ok = await call(server, 'POST', '/access/v1/evaluation', checker, evaluation(deep(5)))
      expect(ok.status).not.toBe(400)
      for (const [path, token] of [
        ['/access/v1/evaluation', checker],
        ['/authz/v1/stores', admin],
      ] as const) {
        const r = await call(server, 'POST', path, token, evaluation(deep(5000)))
        expect(r.status).toBe(400)
        expect(r.body).toMatchObject({ error: 'invalid_json', error_description: expect.stringContaining('32 levels') })
      }
    })

    it('a body over the route limit is a 413, and a non-JSON body a 415', async () => {
      const big = await call(
        server,
        'POST',
        '/access/v1/evaluation',
        checker,
        `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`,
      )
      expect(big.status).toBe(413)
      const text = await call(server, 'POST', '/access/v1/evaluation', checker, 'subject=a', {
        'content-type': 'text/plain',
      })
      expect(text.status).toBe(415)
    })
  })

  describe('security headers on every response', () => {
    const responses: [string, () => Promise<Response>][] = [
      ['discovery', () => fetch(`${server.url}/.well-known/openid-configuration`)],
      ['jwks', () => fetch(`${server.url}/jwks`)],
      ['token (success)', () => token('grant_type=client_credentials')],
      [
        'token (error)',
        () =>
          fetch(`${server.url}/token`, {
            method: 'POST',
            headers: FORM,
            body: 'grant_type=client_credentials&client_id=nobody',
          }),
      ],
      [
        'authorization error page',
        () => fetch(`${server.url}/auth?client_id=nobody&response_type=code`, { redirect: 'manual' }),
      ],
      ['device page', () => fetch(`${server.url}/device`)],
      ['unknown path', () => fetch(`${server.url}/no/such/path`)],
      ['health', () => fetch(`${server.url}/healthz`)],
      [
        'decision (fast lane)',
        () =>
          fetch(`${server.url}/access/v1/evaluation`, {
            method: 'POST',
            headers: { authorization: `Bearer ${checker}`, 'content-type': 'application/json' },
            body: '{"subject":{"type":"user","id":"a"},"action":{"name":"read"},"resource":{"type":"doc","id":"1"}}',
          }),
      ],
      ['413', () => token(`pad=${'x'.repeat(100 * 1024)}`)],
      // an error written by Koa's default error path (which drops every header set before)
      ['GET /device/auth (not a page)', () => fetch(`${server.url}/device/auth`)],
    ]
    it.each(responses)('%s', async (_name, send) => {
      const r = await send()
      await r.body?.cancel()
      for (const h of SECURITY_HEADERS) expect(r.headers.get(h), h).toBeTruthy()
      expect(r.headers.get('x-content-type-options')).toBe('nosniff')
      expect(r.headers.get('strict-transport-security')).toBeNull() // PUBLIC_URL is http here
    })
  })
})

describe('HSTS behind TLS', () => {
  it('is sent on every response when PUBLIC_URL is https, oidc-provider responses included', async () => {
    const s = await startTestServer({ env: { PUBLIC_URL: 'https://id.example.com' } })
    try {
      for (const path of ['/.well-known/openid-configuration', '/jwks', '/no/such/path', '/healthz']) {
        const r = await fetch(`http://127.0.0.1:${s.port}${path}`)
        await r.body?.cancel()
        expect(r.headers.get('strict-transport-security'), path).toMatch(/max-age=\d+/)
      }
    } finally {
      await s.close()
    }
  })
})

describe('slow clients (slowloris)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({
      env: { HTTP_HEADERS_TIMEOUT: '2', HTTP_REQUEST_TIMEOUT: '3', HTTP_KEEPALIVE_TIMEOUT: '1' },
    })
  })
  afterAll(async () => {
    await server?.close()
  })

  /** Opens a raw connection, writes `chunks`, and resolves with what the server sent once it closed. */
  function hold(chunks: string[]): Promise<{ closed: boolean; data: string }> {
    return new Promise((resolve) => {
      const socket = net.connect(server.port, '127.0.0.1')
      let data = ''
      const giveUp = setTimeout(() => {
        socket.destroy()
        resolve({ closed: false, data })
      }, 25_000)
      socket.on('connect', () => {
        for (const c of chunks) socket.write(c)
      })
      socket.on('data', (d) => {
        data += d.toString('latin1')
      })
      socket.on('error', () => undefined)
      socket.on('close', () => {
        clearTimeout(giveUp)
        resolve({ closed: true, data })
      })
    })
  }

  it('a request whose headers never finish is closed (408) within the headers timeout', async () => {
    const r = await hold(['GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: '])
    expect(r.closed).toBe(true)
    expect(r.data).toMatch(/^HTTP\/1\.1 408|^$/)
  }, 30_000)

  it('a body that never finishes is closed within the request timeout', async () => {
    const r = await hold([
      'POST /token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\ngrant_type=',
    ])
    expect(r.closed).toBe(true)
  }, 30_000)

  it('refuses a headers timeout longer than the request timeout, naming the variable', () => {
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT: '90' })).toThrow(
      /HTTP_HEADERS_TIMEOUT: must not be longer than HTTP_REQUEST_TIMEOUT/,
    )
    expect(() => loadConfig({ HTTP_REQUEST_TIMEOUT: 'soon' })).toThrow(/HTTP_REQUEST_TIMEOUT/)
    expect(loadConfig({}).HTTP_HEADERS_TIMEOUT).toBe(20)
  })

  it('an idle keep-alive connection is closed after a complete request', async () => {
    const r = await hold(['GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n'])
    expect(r.closed).toBe(true)
    expect(r.data).toMatch(/^HTTP\/1\.1 200/)
  }, 30_000)
})

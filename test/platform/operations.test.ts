import net from 'node:net'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, formAction, signIn, UserAgent } from '../helpers/user-agent.ts'

const SECRET = 'ops-secret-0123456789abcdef'
const PASSWORD = 'lantern orchard maple seven'
const logs: string[] = []
let server: TestServer

beforeAll(async () => {
  server = await startTestServer({ logSink: logs })
  const { doc, problems } = await validateDocument(server.container, {
    clients: [
      { client_id: 'ops', client_secret: SECRET, grant_types: ['client_credentials'], response_types: [] },
      {
        client_id: 'web',
        client_secret: SECRET,
        redirect_uris: ['https://app.example.com/cb'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid',
      },
    ],
    users: [{ email: 'ops@example.com', password: PASSWORD }],
  })
  expect(problems).toEqual([])
  await applyDocument(server.container, doc!)
})
afterAll(async () => {
  await server?.close()
})

describe('operations', () => {
  it('health: /healthz is up, /readyz checks the database', async () => {
    const live = await fetch(`${server.url}/healthz`)
    expect(live.status).toBe(200)
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready', checks: { database: 'ok', audit: 'ok' } })
  })

  it('logs are JSON with request ids, and never carry passwords, secrets, codes or tokens', async () => {
    const config = await oidc.discovery(new URL(server.url), 'ops', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    const { access_token } = await oidc.clientCredentialsGrant(config, {})
    await oidc.tokenIntrospection(config, access_token)

    const web = await oidc.discovery(new URL(server.url), 'web', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    const verifier = oidc.randomPKCECodeVerifier()
    const authUrl = oidc.buildAuthorizationUrl(web, {
      redirect_uri: 'https://app.example.com/cb',
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    const ua = new UserAgent(server.url)
    // a failed login first (its password must not be logged either), with a caller's request id
    const login = await ua.follow(await ua.request(authUrl), () => false)
    const html = await login.res!.text()
    const failed = await ua.request(formAction(html, '/login'), {
      form: { csrf: field(html, 'csrf'), email: 'ops@example.com', password: 'wrong-horse-battery' },
      headers: { 'x-request-id': 'trace-42' },
    })
    expect(failed.status).toBe(401)
    expect(failed.headers.get('x-request-id')).toBe('trace-42')
    const { callback } = await signIn(new UserAgent(server.url), authUrl, {
      email: 'ops@example.com',
      password: PASSWORD,
    })
    const code = callback!.searchParams.get('code')!
    expect(code).toBeTruthy()

    const lines = logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(lines.length).toBeGreaterThan(3)
    const requests = lines.filter((l) => l.msg === 'request')
    expect(requests.every((l) => typeof l.requestId === 'string' && (l.requestId as string).length > 0)).toBe(true)
    expect(requests.some((l) => l.requestId === 'trace-42' && l.path?.toString().endsWith('/login'))).toBe(true)
    const all = logs.join('\n')
    for (const secret of [SECRET, PASSWORD, 'wrong-horse-battery', access_token, code, verifier])
      expect(all).not.toContain(secret)
  })

  it('/readyz answers 503 naming Redis when Redis is unreachable', async () => {
    const broken = await startTestServer({ redisUrl: 'redis://127.0.0.1:1' })
    try {
      const res = await fetch(`${broken.url}/readyz`)
      expect(res.status).toBe(503)
      expect(await res.json()).toEqual({
        status: 'unavailable',
        checks: { database: 'ok', redis: 'unavailable', audit: 'ok' },
      })
    } finally {
      await broken.close().catch(() => {})
    }
  })

  it('a printable X-Request-ID is echoed exactly; one over 256 characters is replaced', async () => {
    // sanitised only where it is logged (test/authz/authz-exactness.test.ts)
    const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'a b<script>' } })
    expect(res.headers.get('x-request-id')).toBe('a b<script>')
    const long = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'z'.repeat(257) } })
    expect(long.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('graceful shutdown: stops accepting, finishes the request in flight, then closes the database', async () => {
    // A token request whose headers arrived but whose body is still on its way is in flight.
    const body = 'grant_type=client_credentials'
    const socket = net.connect(server.port, '127.0.0.1')
    await new Promise((r) => socket.once('connect', r))
    let response = ''
    socket.on('data', (d) => (response += d))
    const ended = new Promise((r) => socket.once('close', r))
    socket.write(
      [
        'POST /token HTTP/1.1',
        `Host: localhost:${server.port}`,
        `Authorization: Basic ${Buffer.from(`ops:${SECRET}`).toString('base64')}`,
        'Content-Type: application/x-www-form-urlencoded',
        `Content-Length: ${body.length}`,
        'Connection: close',
        '',
        '',
      ].join('\r\n'),
    )
    await new Promise((r) => setTimeout(r, 100))

    const stopping = server.shutdown()
    await new Promise((r) => setTimeout(r, 100))
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow() // no longer accepting

    socket.write(body)
    await ended
    expect(response).toMatch(/^HTTP\/1.1 200/)
    expect(response).toContain('access_token')
    await stopping
    const order = logs.map((l) => (JSON.parse(l) as { msg: string }).msg)
    expect(order.lastIndexOf('shutdown complete')).toBeGreaterThan(order.lastIndexOf('request'))
  })
})

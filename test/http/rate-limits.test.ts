import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { loadConfig } from '../../src/config/env.ts'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'
import { RATE_CLASSES, rateClassOf, rateLimitEnvName } from '../../src/http/rate-limit-classes.ts'
import { ADDRESS_FACTOR } from '../../src/http/rate-limits.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * Rate limits per endpoint class (src/http/rate-limit-classes.ts), over real HTTP: under the
 * budget requests pass, past it a 429 with Retry-After in the class's format, and another key
 * (client, credential, session or address) still passes. Each class gets a budget of 3.
 */
const BUDGET = 3
const CALLBACK = 'https://app.example.com/cb'
const secret = (id: string) => `${id}-secret-0123456789abcdef`
const basic = (id: string) => `Basic ${Buffer.from(`${id}:${secret(id)}`).toString('base64')}`
const FORM = { 'content-type': 'application/x-www-form-urlencoded' }

const limitedEnv = Object.fromEntries(
  RATE_CLASSES.filter((c) => c.points !== null).map((c) => [rateLimitEnvName(c), `${BUDGET}/60`]),
)

const document = {
  clients: ['svc-a', 'svc-b'].map((id) => ({
    client_id: id,
    client_secret: secret(id),
    redirect_uris: [CALLBACK],
    response_types: ['code'],
    grant_types: ['client_credentials', 'authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
    scope: 'openid',
  })),
}

type Send = (server: TestServer, key: 'a' | 'b') => Promise<Response>
interface Case {
  cls: string
  answer: 'oauth' | 'page' | 'api'
  send: Send
  ok?: number
}

// X-Forwarded-For is believed from 127.0.0.1 (TRUSTED_PROXIES below), so each class and key
// gets its own client address.
const ip = (cls: string, key: 'a' | 'b') => ({
  'x-forwarded-for': `203.0.113.${RATE_CLASSES.findIndex((c) => c.name === cls) * 2 + (key === 'a' ? 1 : 2)}`,
})
const post = (s: TestServer, path: string, body: string, headers: Record<string, string>) =>
  fetch(`${s.url}${path}`, { method: 'POST', headers: { ...FORM, ...headers }, body, redirect: 'manual' })
const get = (s: TestServer, path: string, headers: Record<string, string>) =>
  fetch(`${s.url}${path}`, { headers, redirect: 'manual' })

const cases: Case[] = [
  {
    cls: 'token',
    answer: 'oauth',
    ok: 200,
    send: (s, k) => post(s, '/token', 'grant_type=client_credentials', { authorization: basic(`svc-${k}`) }),
  },
  {
    cls: 'introspection',
    answer: 'oauth',
    ok: 200,
    send: (s, k) => post(s, '/token/introspection', 'token=not-a-token', { authorization: basic(`svc-${k}`) }),
  },
  {
    cls: 'revocation',
    answer: 'oauth',
    ok: 200,
    send: (s, k) => post(s, '/token/revocation', 'token=not-a-token', { authorization: basic(`svc-${k}`) }),
  },
  {
    cls: 'par',
    answer: 'oauth',
    ok: 201,
    send: (s, k) =>
      post(
        s,
        '/request',
        `client_id=svc-${k}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent(CALLBACK)}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
        { authorization: basic(`svc-${k}`) },
      ),
  },
  {
    cls: 'device_authorization',
    answer: 'oauth',
    ok: 200,
    send: (s, k) => post(s, '/device/auth', 'scope=openid', { authorization: basic(`svc-${k}`) }),
  },
  {
    cls: 'device',
    answer: 'page',
    ok: 200,
    send: (s, k) => get(s, '/device', { ...ip('device', k), accept: 'text/html' }),
  },
  {
    cls: 'signin',
    answer: 'page',
    send: (s, k) =>
      post(s, '/interaction/no-such-uid/login', 'email=a%40example.com&password=x', {
        ...ip('signin', k),
        accept: 'text/html',
      }),
  },
  {
    cls: 'mfa',
    answer: 'page',
    send: (s, k) => post(s, '/interaction/no-such-uid/mfa', 'code=123456', { ...ip('mfa', k), accept: 'text/html' }),
  },
  {
    cls: 'signup',
    answer: 'page',
    send: (s, k) =>
      post(s, '/register', 'email=a%40example.com', { ...ip('signup', k), accept: 'text/html', origin: s.url }),
  },
  // key: the sign-in session cookie (both from the same address)
  {
    cls: 'account',
    answer: 'page',
    send: (s, k) =>
      post(s, '/account/profile', 'name=x', { cookie: `portcullis_sid=session-${k}`, accept: 'text/html' }),
  },
  {
    cls: 'policy',
    answer: 'api',
    send: (s, k) =>
      fetch(`${s.url}/authz/v1/stores`, {
        method: 'POST',
        headers: { authorization: `Bearer caller-${k}`, 'content-type': 'application/json' },
        body: '{}',
      }),
  },
  {
    cls: 'apikeys',
    answer: 'api',
    send: (s, k) => get(s, '/apikeys/v1/keys', { authorization: `Bearer caller-${k}` }),
  },
  { cls: 'audit', answer: 'api', send: (s, k) => get(s, '/audit/v1/events', { authorization: `Bearer caller-${k}` }) },
  {
    cls: 'admin',
    answer: 'api',
    send: (s, k) => get(s, '/admin/v1/users', { authorization: `Bearer caller-${k}`, accept: 'application/json' }),
  },
  {
    cls: 'default',
    answer: 'api',
    ok: 200,
    send: (s, k) => get(s, '/.well-known/openid-configuration', { ...ip('default', k), accept: 'application/json' }),
  },
]

describe('the class table', () => {
  it('puts every endpoint family in its class and an unknown path in the IP-keyed default', () => {
    expect(rateClassOf('POST', '/token').name).toBe('token')
    expect(rateClassOf('POST', '/token/introspection').name).toBe('introspection')
    expect(rateClassOf('POST', '/device/auth').name).toBe('device_authorization')
    expect(rateClassOf('POST', '/device').name).toBe('device')
    expect(rateClassOf('POST', '/interaction/x/mfa/passkey').name).toBe('mfa')
    expect(rateClassOf('POST', '/interaction/x/login').name).toBe('signin')
    expect(rateClassOf('POST', '/register').name).toBe('signup')
    expect(rateClassOf('GET', '/register').name).toBe('default')
    expect(rateClassOf('POST', '/access/v1/evaluation').name).toBe('decision')
    expect(rateClassOf('POST', '/authz/v1/stores/docs/check').name).toBe('decision')
    expect(rateClassOf('POST', '/authz/v1/stores/docs/versions').name).toBe('policy')
    expect(rateClassOf('GET', '/authz/v1/stores').name).toBe('default')
    expect(rateClassOf('GET', '/admin/v1/users').name).toBe('admin')
    const unknown = rateClassOf('POST', '/brand-new/v1/some-future-endpoint')
    expect(unknown).toMatchObject({ name: 'default', key: 'ip' })
    expect(unknown.points).toBeGreaterThan(0)
  })

  it('reads RATE_LIMIT_<CLASS> as POINTS/SECONDS or off, and names the variable when it is wrong', () => {
    expect(loadConfig({ RATE_LIMIT_TOKEN: '10/30' }).RATE_LIMITS.token).toEqual({ points: 10, duration: 30 })
    expect(loadConfig({ RATE_LIMIT_TOKEN: 'off' }).RATE_LIMITS.token).toBeNull()
    // real defaults, not "unlimited"
    expect(loadConfig({}).RATE_LIMITS.token).toEqual({ points: 600, duration: 60 })
    expect(loadConfig({}).RATE_LIMITS.decision).toBeNull()
    expect(() => loadConfig({ RATE_LIMIT_TOKEN: 'lots' })).toThrow(/RATE_LIMIT_TOKEN: must be POINTS\/SECONDS/)
    expect(() => loadConfig({ RATE_LIMIT_SIGNIN: '0/60x' })).toThrow(/RATE_LIMIT_SIGNIN/)
    expect(() => loadConfig({ RATE_LIMIT_DECISION: '5/60' })).toThrow(
      /RATE_LIMIT_DECISION: the decision class is never limited/,
    )
  })
})

describeOnBackends('rate-limits.test.ts', 'rate limits per endpoint class', ({ kind, redisUrl }) => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl, env: { ...limitedEnv, TRUSTED_PROXIES: '127.0.0.1/32,::1/128' } })
    const { doc, problems } = await validateDocument(server.container, document)
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    await server?.close()
  })

  it.each(cases)(
    '$cls: passes under the budget, then 429 with Retry-After; another key still passes',
    async ({ cls, answer, send, ok }) => {
      for (let i = 0; i < BUDGET; i++) {
        const r = await send(server, 'a')
        if (ok) expect(r.status, `${cls} request ${i + 1}: ${await r.clone().text()}`).toBe(ok)
        else expect(r.status).not.toBe(429)
        await r.body?.cancel()
      }
      const refused = await send(server, 'a')
      expect(refused.status).toBe(429)
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      expect(retryAfter).toBeLessThanOrEqual(60)
      if (answer === 'page') {
        expect(refused.headers.get('content-type')).toMatch(/text\/html/)
        expect(await refused.text()).toContain('Too many requests')
      } else {
        expect(await refused.json()).toMatchObject({
          error: answer === 'oauth' ? 'temporarily_unavailable' : 'rate_limited',
        })
      }
      const other = await send(server, 'b')
      expect(other.status).not.toBe(429)
      if (ok) expect(other.status).toBe(ok)
      await other.body?.cancel()
    },
  )

  it('counts refusals per class in portcullis_rate_limited_total', async () => {
    const { body } = await server.container.metrics.scrape()
    expect(body).toMatch(/portcullis_rate_limited_total\{class="token"\} [1-9]/)
    expect(body).toMatch(/portcullis_rate_limited_total\{class="account"\} [1-9]/)
  })

  it('a browser gets a page and an API client JSON from the default class', async () => {
    const page = await get(server, '/jwks', { ...ip('default', 'a'), accept: 'text/html' })
    expect(page.status).toBe(429)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    await page.body?.cancel()
  })

  it('health probes and policy decisions are never refused', async () => {
    for (let i = 0; i < BUDGET * 3; i++) {
      expect((await get(server, '/healthz', ip('health', 'a'))).status).toBe(200)
      const d = await fetch(`${server.url}/access/v1/evaluation`, {
        method: 'POST',
        headers: { authorization: 'Bearer caller-a', 'content-type': 'application/json' },
        body: '{}',
      })
      expect(d.status).toBe(401)
      await d.body?.cancel()
    }
  })

  it('inventing a new client id, token or cookie per request runs into the address ceiling', async () => {
    // ADDRESS_FACTOR (10) times the budget per address, however many keys it makes up
    const statuses: number[] = []
    for (let i = 0; i < BUDGET * ADDRESS_FACTOR + 1; i++) {
      const r = await post(server, '/token/revocation', `token=x&client_id=made-up-${i}`, ip('revocation', 'a'))
      statuses.push(r.status)
      await r.body?.cancel()
    }
    expect(statuses.slice(0, -1)).not.toContain(429)
    expect(statuses.at(-1)).toBe(429)
    // another address is not affected
    const other = await post(server, '/token/revocation', 'token=x&client_id=made-up-other', ip('revocation', 'b'))
    expect(other.status).not.toBe(429)
  })

  it('hostile client credentials are keyed without a 5xx', async () => {
    const hostile: Record<string, string>[] = [
      { authorization: 'Basic %%%not-base64' },
      { authorization: `Basic ${Buffer.from('%E0%A4%A:secret').toString('base64')}` }, // bad percent-encoding
      { authorization: `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x00]).toString('base64')}` },
      { authorization: `Basic ${Buffer.from(`${'c'.repeat(4000)}:x`).toString('base64')}` },
    ]
    const bodies = [
      'token=x&client_assertion=not.a-jwt.%00',
      'token=x&client_assertion=a.eyJzdWIiOjF9.b',
      `token=x&client_id=${'%F0%9F'.repeat(100)}`,
    ]
    for (const headers of hostile) {
      const r = await post(server, '/token/introspection', 'token=x', { ...headers, ...ip('introspection', 'a') })
      expect(r.status).toBeLessThan(500)
      await r.body?.cancel()
    }
    for (const body of bodies) {
      const r = await post(server, '/token/introspection', body, ip('introspection', 'b'))
      expect(r.status).toBeLessThan(500)
      await r.body?.cancel()
    }
  })

  it('a spoofed X-Forwarded-For from an untrusted peer does not reset the budget', async () => {
    const s = await startTestServer({ kind, redisUrl, env: limitedEnv })
    try {
      const statuses: number[] = []
      for (let i = 0; i <= BUDGET; i++) {
        const r = await get(s, '/device', { 'x-forwarded-for': `198.51.100.${i + 1}` })
        statuses.push(r.status)
        await r.body?.cancel()
      }
      expect(statuses).toEqual([200, 200, 200, 429])
    } finally {
      await s.close()
    }
  })
})

describe.skipIf(!pgTestUrl() || !redisTestUrl())('rate limits shared by every instance through Redis', () => {
  it('the second instance refuses once the first used the budget', async () => {
    const env = { ...limitedEnv, REDIS_PREFIX: `pc-test-rl-${process.pid}-${Date.now()}:` }
    const masterKey = crypto.randomBytes(32).toString('base64')
    const a = await startTestServer({ kind: 'postgresql', redisUrl: redisTestUrl(), env, masterKey })
    const b = await startTestServer({ kind: 'postgresql', redisUrl: redisTestUrl(), env, masterKey, db: a.db })
    try {
      const { doc } = await validateDocument(a.container, document)
      await applyDocument(a.container, doc!)
      for (let i = 0; i < BUDGET; i++) {
        const r = await post(a, '/token', 'grant_type=client_credentials', { authorization: basic('svc-a') })
        expect(r.status).toBe(200)
        await r.body?.cancel()
      }
      const onB = await post(b, '/token', 'grant_type=client_credentials', { authorization: basic('svc-a') })
      expect(onB.status).toBe(429)
      expect(onB.headers.get('retry-after')).toMatch(/^\d+$/)
      const otherOnB = await post(b, '/token', 'grant_type=client_credentials', { authorization: basic('svc-b') })
      expect(otherOnB.status).toBe(200)
    } finally {
      await b.close()
      await a.close()
    }
  })
})

import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { exportDocument } from '../../src/declarative/export.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * IP allowlists beyond API keys (issue 5 item 7): per client (`allowed_ips` client metadata,
 * enforced where the client calls for itself: token, introspection, revocation, PAR, device
 * authorization) and for the management APIs (MANAGEMENT_ALLOWED_IPS). 127.0.0.1 is a trusted
 * proxy here, so each request picks its client IP with X-Forwarded-For; the server's own
 * resolver decides which address counts (a spoofed left-most entry never does).
 */

const SECRET = (id: string) => `${id}-secret-0123456789abcdef`
const CALLBACK = 'https://app.example.com/cb'
const OFFICE = '203.0.113.7'
const OFFICE_V6 = '2001:db8:1::5'
const ELSEWHERE = '198.51.100.1'
const OPS = '10.1.2.3'

/** openid-client, seen by the server as calling from `ip`. */
async function rpFrom(server: TestServer, clientId: string, ip: string) {
  const config = await oidc.discovery(
    new URL(server.url),
    clientId,
    SECRET(clientId),
    oidc.ClientSecretBasic(SECRET(clientId)),
    { execute: [oidc.allowInsecureRequests] },
  )
  config[oidc.customFetch] = (url, options) => {
    const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0])
    headers.set('x-forwarded-for', ip)
    return fetch(url, { ...options, headers } as RequestInit)
  }
  return config
}

describeOnBackends('ip-allowlists.test.ts', 'IP allowlists', ({ kind, redisUrl }) => {
  let server: TestServer
  let admin: string

  beforeAll(async () => {
    server = await startTestServer({
      kind,
      redisUrl,
      env: { TRUSTED_PROXIES: '127.0.0.1, ::1', MANAGEMENT_ALLOWED_IPS: '10.1.0.0/16, fd00:0:0:1::/64' },
    })
    await registerServiceClients(server, [
      { id: 'root', scope: 'admin authz:admin apikeys:admin audit:read authz:check' },
      { id: 'rs', scope: 'apikeys:verify' },
    ])
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'ci-runner',
          client_secret: SECRET('ci-runner'),
          grant_types: ['client_credentials'],
          response_types: [],
          allowed_ips: ['203.0.113.0/24', '2001:db8:1::/48'],
        },
        {
          client_id: 'web',
          client_secret: SECRET('web'),
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
          response_types: ['code'],
          allowed_ips: [OFFICE],
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    admin = await apiToken(server, 'root', 'admin authz:admin apikeys:admin audit:read authz:check')
  })
  afterAll(async () => {
    await server?.close()
  })

  describe('per client', () => {
    it('client_credentials works from a listed network, IPv4 and IPv6', async () => {
      for (const ip of [OFFICE, OFFICE_V6]) {
        const tokens = await oidc.clientCredentialsGrant(await rpFrom(server, 'ci-runner', ip), {})
        expect(tokens.access_token).toBeTruthy()
      }
    })

    it('from anywhere else the token endpoint refuses with unauthorized_client, audited, and issues nothing', async () => {
      const before = (await server.container.audit.list({ action: 'token.issued' })).filter(
        (e) => e.actor === 'ci-runner' && e.outcome === 'success',
      ).length
      const err = await oidc
        .clientCredentialsGrant(await rpFrom(server, 'ci-runner', ELSEWHERE), {})
        .catch((e: unknown) => e)
      expect(err).toBeInstanceOf(oidc.ResponseBodyError)
      expect(err).toMatchObject({ error: 'unauthorized_client', status: 400 })
      expect((err as oidc.ResponseBodyError).error_description).toContain(ELSEWHERE)
      const denied = await server.container.audit.list({ action: 'client.ip_denied' })
      expect(
        denied.some(
          (e) =>
            e.actor === 'ci-runner' && e.ip === ELSEWHERE && (e.details as { endpoint?: string }).endpoint === 'token',
        ),
      ).toBe(true)
      const after = (await server.container.audit.list({ action: 'token.issued' })).filter(
        (e) => e.actor === 'ci-runner' && e.outcome === 'success',
      ).length
      expect(after).toBe(before)
    })

    it('the check comes before the secret: a wrong secret from outside gets the same refusal', async () => {
      const wrongSecretFrom = async (ip: string) => {
        const r = await fetch(`${server.url}/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from('ci-runner:wrong-secret').toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
            'x-forwarded-for': ip,
          },
          body: 'grant_type=client_credentials',
        })
        return { status: r.status, error: ((await r.json()) as { error: string }).error }
      }
      expect(await wrongSecretFrom(ELSEWHERE)).toEqual({ status: 400, error: 'unauthorized_client' })
      // ...while from inside, the wrong secret is what is wrong.
      expect(await wrongSecretFrom(OFFICE)).toEqual({ status: 401, error: 'invalid_client' })
    })

    it('a spoofed X-Forwarded-For entry is not believed: the address our proxy saw counts', async () => {
      // The caller wrote OFFICE; our proxy (127.0.0.1) appended the address it really saw.
      const err = await oidc
        .clientCredentialsGrant(await rpFrom(server, 'ci-runner', `${OFFICE}, ${ELSEWHERE}`), {})
        .catch((e: unknown) => e)
      expect(err).toMatchObject({ error: 'unauthorized_client' })
      // A direct connection (no proxy header) is 127.0.0.1, which is not listed.
      const direct = await oidc.discovery(
        new URL(server.url),
        'ci-runner',
        SECRET('ci-runner'),
        oidc.ClientSecretBasic(SECRET('ci-runner')),
        { execute: [oidc.allowInsecureRequests] },
      )
      await expect(oidc.clientCredentialsGrant(direct, {})).rejects.toMatchObject({ error: 'unauthorized_client' })
    })

    it('introspection and revocation are limited too', async () => {
      const inside = await rpFrom(server, 'ci-runner', OFFICE)
      const outside = await rpFrom(server, 'ci-runner', ELSEWHERE)
      const { access_token } = await oidc.clientCredentialsGrant(inside, {})
      await expect(oidc.tokenIntrospection(outside, access_token)).rejects.toMatchObject({
        error: 'unauthorized_client',
      })
      await expect(oidc.tokenRevocation(outside, access_token)).rejects.toMatchObject({ error: 'unauthorized_client' })
      // the revocation above did nothing
      expect((await oidc.tokenIntrospection(inside, access_token)).active).toBe(true)
      await oidc.tokenRevocation(inside, access_token)
      expect((await oidc.tokenIntrospection(inside, access_token)).active).toBe(false)
    })

    it('PAR and device authorization are limited; the authorization endpoint (a browser) is not', async () => {
      const inside = await rpFrom(server, 'web', OFFICE)
      const outside = await rpFrom(server, 'web', ELSEWHERE)
      const params = {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }
      await expect(oidc.buildAuthorizationUrlWithPAR(outside, params)).rejects.toMatchObject({
        error: 'unauthorized_client',
      })
      const url = await oidc.buildAuthorizationUrlWithPAR(inside, params)
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/)
      await expect(oidc.initiateDeviceAuthorization(outside, { scope: 'openid' })).rejects.toMatchObject({
        error: 'unauthorized_client',
      })
      expect((await oidc.initiateDeviceAuthorization(inside, { scope: 'openid' })).user_code).toBeTruthy()
      // A person's browser, anywhere, still reaches the sign-in page.
      const auth = oidc.buildAuthorizationUrl(outside, params)
      const r = await fetch(auth, { redirect: 'manual', headers: { 'x-forwarded-for': ELSEWHERE } })
      expect(r.status).toBe(303)
      expect(r.headers.get('location')).toMatch(/^\/interaction\//)
    })

    it('malformed allowed_ips is refused at import with the field named, and nothing is written', async () => {
      for (const bad of [['10.0.0.300'], [], '10.0.0.0/8', ['10.0.0.0/33'], [42]]) {
        const { problems } = await validateDocument(server.container, {
          clients: [
            {
              client_id: 'bad-ips',
              client_secret: SECRET('bad-ips'),
              grant_types: ['client_credentials'],
              response_types: [],
              allowed_ips: bad,
            },
          ],
        })
        expect(problems.map((p) => `${p.path} ${p.message}`).join('\n')).toMatch(/allowed_ips/)
      }
      expect((await server.container.clients.list()).some((c) => c.clientId === 'bad-ips')).toBe(false)
    })

    it('allowed_ips is exported, and a change is audited with before and after', async () => {
      const exported = await exportDocument(server.container)
      expect(exported.clients.find((c) => c.client_id === 'ci-runner')).toMatchObject({
        allowed_ips: ['203.0.113.0/24', '2001:db8:1::/48'],
      })
      const { doc, problems } = await validateDocument(server.container, {
        clients: [
          {
            client_id: 'ci-runner',
            client_secret: SECRET('ci-runner'),
            grant_types: ['client_credentials'],
            response_types: [],
            allowed_ips: ['192.0.2.0/24'],
          },
        ],
      })
      expect(problems).toEqual([])
      await applyDocument(server.container, doc!)
      const updated = (await server.container.audit.list({ action: 'client.updated' })).filter(
        (e) => e.target === 'ci-runner',
      )
      expect(JSON.stringify(updated.at(-1)?.details)).toContain('192.0.2.0/24')
      // The new list applies at once: the office is out, 192.0.2.x is in.
      await expect(oidc.clientCredentialsGrant(await rpFrom(server, 'ci-runner', OFFICE), {})).rejects.toMatchObject({
        error: 'unauthorized_client',
      })
      expect(
        (await oidc.clientCredentialsGrant(await rpFrom(server, 'ci-runner', '192.0.2.44'), {})).access_token,
      ).toBeTruthy()
    })
  })

  describe('management APIs (MANAGEMENT_ALLOWED_IPS)', () => {
    const from = (ip: string) => ({ 'x-forwarded-for': ip })

    it('the audit API answers inside the network and is 403 ip_not_allowed outside, before any authentication', async () => {
      expect((await call(server, 'GET', '/audit/v1/events', admin, undefined, from(OPS))).status).toBe(200)
      expect((await call(server, 'GET', '/audit/v1/events', undefined, undefined, from(OPS))).status).toBe(401)
      for (const token of [admin, undefined, 'not-a-token']) {
        const r = await call(server, 'GET', '/audit/v1/events', token, undefined, from(ELSEWHERE))
        expect(r.status).toBe(403)
        expect(r.body).toMatchObject({ error: 'ip_not_allowed' })
        expect(r.body.error_description).toContain(ELSEWHERE)
      }
      const denied = await server.container.audit.list({ action: 'management.ip_denied' })
      expect(
        denied.some((e) => e.ip === ELSEWHERE && (e.details as { path?: string }).path === '/audit/v1/events'),
      ).toBe(true)
    })

    it('policy changes are limited; decisions and reads are not', async () => {
      const body = { name: 'ops-only', model: 'acl.conf', policy: 'p, alice, doc, read' }
      const outside = await call(server, 'POST', '/authz/v1/stores', admin, body, from(ELSEWHERE))
      expect(outside.status).toBe(403)
      expect(outside.body.error).toBe('ip_not_allowed')
      expect((await server.container.authz.stores.list()).some((s) => s.name === 'ops-only')).toBe(false)
      expect((await call(server, 'POST', '/authz/v1/stores', admin, body, from(OPS))).status).toBe(201)
      const version = await call(
        server,
        'POST',
        '/authz/v1/stores/ops-only/versions',
        admin,
        { policy: 'p, bob, doc, read' },
        from(ELSEWHERE),
      )
      expect(version.status).toBe(403)
      const check = await call(
        server,
        'POST',
        '/authz/v1/stores/ops-only/check',
        admin,
        { request: ['alice', 'doc', 'read'] },
        from(ELSEWHERE),
      )
      expect(check.status).toBe(200)
      expect(check.body.allowed).toBe(true)
      expect((await call(server, 'GET', '/authz/v1/stores/ops-only', admin, undefined, from(ELSEWHERE))).status).toBe(
        200,
      )
    })

    it('the key API is limited except /verify, which resource servers call from anywhere', async () => {
      const create = { owner: 'client:rs', name: 'from outside', scopes: ['apikeys:verify'], level: 'LOW' }
      const outside = await call(server, 'POST', '/apikeys/v1/keys', admin, create, from(ELSEWHERE))
      expect(outside.status).toBe(403)
      expect(outside.body.error).toBe('ip_not_allowed')
      expect((await call(server, 'GET', '/apikeys/v1/keys', admin, undefined, from(ELSEWHERE))).status).toBe(403)
      const key = await (async () => {
        const r = await call(server, 'POST', '/apikeys/v1/keys', admin, { ...create, name: 'from ops' }, from(OPS))
        expect(r.status).toBe(201)
        return r.body as { id: string; key: string }
      })()
      expect(
        (await call(server, 'POST', `/apikeys/v1/keys/${key.id}/revoke`, admin, undefined, from(ELSEWHERE))).status,
      ).toBe(403)
      const rs = await apiToken(server, 'rs', 'apikeys:verify')
      const verified = await call(server, 'POST', '/apikeys/v1/verify', rs, { token: key.key }, from(ELSEWHERE))
      expect(verified.status).toBe(200)
      expect(verified.body).toMatchObject({ active: true, key_id: key.id })
    })

    it('/metrics is limited', async () => {
      expect((await call(server, 'GET', '/metrics', admin, undefined, from(ELSEWHERE))).status).toBe(403)
      const inside = await fetch(`${server.url}/metrics`, {
        headers: { authorization: `Bearer ${admin}`, ...from(OPS) },
      })
      expect(inside.status).toBe(200)
      expect(await inside.text()).toContain('# TYPE')
    })

    it('an IPv6 operator inside the listed prefix is let in', async () => {
      expect((await call(server, 'GET', '/audit/v1/verify', admin, undefined, from('fd00:0:0:1::7'))).status).toBe(200)
      expect((await call(server, 'GET', '/audit/v1/verify', admin, undefined, from('fd00:0:0:2::7'))).status).toBe(403)
    })
  })
})

describe('without MANAGEMENT_ALLOWED_IPS', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
    await registerServiceClients(server, [{ id: 'root', scope: 'audit:read' }])
  })
  afterAll(async () => {
    await server?.close()
  })

  it('the management APIs answer from any address, as before', async () => {
    const token = await apiToken(server, 'root', 'audit:read')
    expect(
      (await call(server, 'GET', '/audit/v1/events', token, undefined, { 'x-forwarded-for': ELSEWHERE })).status,
    ).toBe(200)
  })
})

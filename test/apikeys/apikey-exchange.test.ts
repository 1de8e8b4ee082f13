import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { API_KEY_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../src/oidc/apikey-exchange.ts'
import { oauthError } from '../helpers/oauth-errors.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { issue } from '../helpers/apikeys.ts'

/**
 * Exchanging an API key for a short-lived JWT access token at the token endpoint (RFC 8693
 * token exchange, issue 5 item 4), with the real openid-client as the caller and jose verifying
 * the result offline against the JWKS, as a downstream service would.
 */

const ORDERS = 'https://orders.example.com'
const LEDGER = 'https://ledger.example.com'

describeOnBackends('apikey-exchange.test.ts', 'API key exchange', ({ kind, redisUrl }) => {
  let server: TestServer
  let admin: string
  let rp: oidc.Configuration // the built-in public client `apikey-exchange`
  let jwks: ReturnType<typeof jose.createRemoteJWKSet>
  let userId: string

  const exchange = (config: oidc.Configuration, key: string, extra: Record<string, string> = {}) =>
    oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
      subject_token: key,
      subject_token_type: API_KEY_TOKEN_TYPE,
      ...extra,
    })
  const verify = (token: string, audience: string) =>
    jose.jwtVerify(token, jwks, { issuer: server.url, audience, typ: 'at+jwt' }).then((r) => r.payload)

  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    const { doc, problems } = await validateDocument(server.container, {
      resources: [
        {
          indicator: ORDERS,
          scopes: ['orders:read', 'orders:write'],
          access_token_format: 'jwt',
          access_token_ttl: 3600,
        },
        { indicator: LEDGER, scopes: ['ledger:read'], access_token_format: 'opaque' },
      ],
      clients: [
        {
          client_id: 'svc',
          client_secret: 'svc-secret-0123456789abcdef',
          grant_types: ['client_credentials'],
          response_types: [],
          scope: 'authz:check orders:read orders:write',
        },
        // A client's registered scope bounds what it exchanges keys for (client-scopes.ts).
        {
          client_id: 'gateway',
          client_secret: 'gateway-secret-0123456789abcdef',
          grant_types: [TOKEN_EXCHANGE_GRANT],
          response_types: [],
          scope: 'authz:check',
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    await server.container.refresh() // the new resources' scopes
    await registerServiceClients(server, [{ id: 'root', scope: 'apikeys:admin admin authz:admin' }])
    admin = await apiToken(server, 'root', 'apikeys:admin admin authz:admin')
    userId = (await server.container.users.create({ email: 'dana@example.com', roles: ['authz:check'] })).id
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores', admin, {
          name: 'docs',
          model: 'acl.conf',
          policy: 'p, dana, doc, read',
        })
      ).status,
    ).toBe(201)
    rp = await oidc.discovery(new URL(server.url), 'apikey-exchange', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    })
    jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
  })
  afterAll(async () => {
    await server?.close()
  })

  it('discovery advertises the grant', () => {
    expect(rp.serverMetadata().grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT)
  })

  it("a user's key becomes a short-lived JWT for portcullis's API that acts as the key", async () => {
    const k = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'laptop',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    const r = await exchange(rp, k.key)
    expect(r).toMatchObject({
      token_type: 'bearer',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      scope: 'authz:check',
    })
    expect(r.expires_in).toBeGreaterThan(800)
    expect(r.expires_in).toBeLessThanOrEqual(900) // APIKEY_EXCHANGE_TTL, not the API's hour
    const claims = await verify(r.access_token, `${server.url}/api`)
    expect(claims).toMatchObject({
      sub: userId,
      client_id: 'apikey-exchange',
      scope: 'authz:check',
      key_id: k.id,
      key_level: 'LOW',
    })
    // Our own API takes it like the key: a decision, and the key's limits (no authz:admin).
    const check = await call(server, 'POST', '/authz/v1/stores/docs/check', r.access_token, {
      request: ['dana', 'doc', 'read'],
    })
    expect(check.status).toBe(200)
    expect(check.body.allowed).toBe(true)
    expect(
      (await call(server, 'POST', '/authz/v1/stores', r.access_token, { name: 'nope', model: 'acl.conf' })).status,
    ).toBe(403)
    const events = await server.container.audit.list({ action: 'apikey.exchanged' })
    expect(events.some((e) => e.target === `apikey:${k.id}` && e.actor === `user:${userId}`)).toBe(true)
  })

  it("a service account's key acts as the account, for a registered resource and a subset of scopes", async () => {
    const k = await issue(server, admin, {
      owner: 'client:svc',
      name: 'ci',
      scopes: ['orders:read', 'orders:write', 'authz:check'],
      level: 'MEDIUM',
    })
    const r = await exchange(rp, k.key, { resource: ORDERS, scope: 'orders:read' })
    const claims = await verify(r.access_token, ORDERS)
    expect(claims).toMatchObject({
      sub: 'svc',
      client_id: 'svc',
      scope: 'orders:read',
      key_id: k.id,
      key_level: 'MEDIUM',
    })
    // Without scope: every scope of the key the resource knows (not authz:check).
    const all = await verify((await exchange(rp, k.key, { resource: ORDERS })).access_token, ORDERS)
    expect(String(all.scope).split(' ').sort()).toEqual(['orders:read', 'orders:write'])
    // A token for another audience does not open our API.
    expect((await call(server, 'GET', '/authz/v1/stores', r.access_token)).status).toBe(401)
  })

  it('the token never outlives the key', async () => {
    const k = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'brief',
      scopes: ['authz:check'],
      level: 'LOW',
      expires_in: 120,
    })
    const claims = await verify((await exchange(rp, k.key)).access_token, `${server.url}/api`)
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(120)
  })

  it('a confidential client with the grant may exchange, after authenticating', async () => {
    const k = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'via gateway',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    const gateway = await oidc.discovery(
      new URL(server.url),
      'gateway',
      'gateway-secret-0123456789abcdef',
      oidc.ClientSecretBasic('gateway-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
    expect(await verify((await exchange(gateway, k.key)).access_token, `${server.url}/api`)).toMatchObject({
      sub: userId,
      client_id: 'gateway',
    })
    const wrong = await oidc.discovery(
      new URL(server.url),
      'gateway',
      'not-the-secret-0123456789',
      oidc.ClientSecretBasic('not-the-secret-0123456789'),
      { execute: [oidc.allowInsecureRequests] },
    )
    expect(await oauthError(exchange(wrong, k.key))).toMatchObject({ error: 'invalid_client', status: 401 })
    // A client without the grant in its grant_types may not use it.
    const svc = await oidc.discovery(
      new URL(server.url),
      'svc',
      'svc-secret-0123456789abcdef',
      oidc.ClientSecretBasic('svc-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
    await expect(exchange(svc, k.key)).rejects.toMatchObject({ error: 'invalid_request' })
  })

  it('a wrong, revoked, mistyped or out-of-network key is invalid_grant and issues nothing', async () => {
    const k = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'doomed',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    const mistyped = `${k.key.slice(0, -1)}${k.key.endsWith('A') ? 'B' : 'A'}`
    await expect(exchange(rp, mistyped)).rejects.toMatchObject({ error: 'invalid_grant' })
    expect((await call(server, 'POST', `/apikeys/v1/keys/${k.id}/revoke`, admin)).status).toBe(200)
    const revoked = await exchange(rp, k.key).catch((e: oidc.ResponseBodyError) => e)
    expect(revoked).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/revoked/) })
    const fenced = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'fenced',
      scopes: ['authz:check'],
      level: 'MEDIUM',
      allowed_ips: ['192.0.2.0/24'],
    })
    await expect(exchange(rp, fenced.key)).rejects.toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/may not be used from/),
    })
  })

  it('HIGH and CRITICAL keys cannot be exchanged: a bearer token would escape their rules', async () => {
    const high = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'high',
      scopes: ['authz:check'],
      level: 'HIGH',
      allowed_ips: ['127.0.0.1'],
    })
    const err = await exchange(rp, high.key).catch((e: oidc.ResponseBodyError) => e)
    expect(err).toMatchObject({
      error: 'invalid_grant',
      error_description: expect.stringMatching(/HIGH keys cannot be exchanged/),
    })
    // ...while the key itself still works where its rules hold.
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', high.key, { request: ['dana', 'doc', 'read'] }))
        .status,
    ).toBe(200)
  })

  it('resources and scopes the key cannot have are refused', async () => {
    const k = await issue(server, admin, { owner: 'client:svc', name: 'narrow', scopes: ['orders:read'], level: 'LOW' })
    await expect(exchange(rp, k.key, { resource: ORDERS, scope: 'orders:write' })).rejects.toMatchObject({
      error: 'invalid_scope',
    })
    await expect(exchange(rp, k.key, { resource: LEDGER })).rejects.toMatchObject({
      error: 'invalid_target',
      error_description: expect.stringMatching(/opaque/),
    })
    await expect(exchange(rp, k.key, { resource: 'https://unknown.example.com' })).rejects.toMatchObject({
      error: 'invalid_target',
    })
    // The default resource is our API, whose scopes this key has none of.
    await expect(exchange(rp, k.key)).rejects.toMatchObject({ error: 'invalid_scope' })
  })

  it('the built-in client ids cannot be taken by an imported client', async () => {
    for (const id of ['apikey-exchange', 'portcullis-account']) {
      const { problems } = await validateDocument(server.container, {
        clients: [
          {
            client_id: id,
            client_secret: 'x-secret-0123456789abcdef',
            grant_types: ['client_credentials'],
            response_types: [],
          },
        ],
      })
      expect(problems.map((p) => p.message).join('\n')).toMatch(/reserved/)
    }
  })

  it('malformed requests are invalid_request with a clear description', async () => {
    const k = await issue(server, admin, {
      owner: 'user:dana@example.com',
      name: 'shapes',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    const cases: [Record<string, string>, RegExp][] = [
      [{ subject_token_type: API_KEY_TOKEN_TYPE }, /subject_token/],
      // (an access_token subject is a user's token to exchange: test/oidc/token-exchange.test.ts)
      [
        { subject_token: k.key, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
        /subject_token_type must be/,
      ],
      [
        {
          subject_token: k.key,
          subject_token_type: API_KEY_TOKEN_TYPE,
          requested_token_type: 'urn:ietf:params:oauth:token-type:saml2',
        },
        /requested_token_type/,
      ],
      [{ subject_token: k.key, subject_token_type: API_KEY_TOKEN_TYPE, audience: 'orders' }, /resource/],
      [
        {
          subject_token: k.key,
          subject_token_type: API_KEY_TOKEN_TYPE,
          actor_token: 'x',
          actor_token_type: API_KEY_TOKEN_TYPE,
        },
        /actor_token/,
      ],
    ]
    for (const [params, message] of cases) {
      const err = await oidc
        .genericGrantRequest(rp, TOKEN_EXCHANGE_GRANT, params)
        .catch((e: oidc.ResponseBodyError) => e)
      expect(err, JSON.stringify(params)).toMatchObject({
        error: 'invalid_request',
        error_description: expect.stringMatching(message),
      })
    }
    const two = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      client_id: 'apikey-exchange',
      subject_token: k.key,
      subject_token_type: API_KEY_TOKEN_TYPE,
    })
    two.append('resource', ORDERS)
    two.append('resource', `${server.url}/api`)
    const r = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: two,
    })
    expect(r.status).toBe(400)
    expect(((await r.json()) as { error: string }).error).toBe('invalid_target')
  })
})

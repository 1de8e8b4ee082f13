import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { API_KEY_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '../../src/oidc/apikey-exchange.ts'
import { MANAGEMENT_SCOPES } from '../../src/oidc/api-resource.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { issue } from '../helpers/apikeys.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * Issue 10 §1: a client gets only the scopes registered for it. A client without `scope` gets
 * the OpenID scopes only (plus offline_access with refresh tokens), never a management scope
 * (admin, authz:admin, apikeys:*, audit:read) nor a resource scope; a client with a narrower
 * `scope` gets nothing beyond it. Every way a client obtains scopes is tried with openid-client
 * over real HTTP: client credentials, authorization code (plain and PAR), device authorization,
 * refresh, and API key exchange.
 */

const ORDERS = 'https://orders.example.com'
const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'quiet river lamp orbit'
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code'
const secret = (id: string) => `${id}-secret-0123456789abcdef`

const web = (id: string, scope?: string) => ({
  client_id: id,
  client_secret: secret(id),
  redirect_uris: [CALLBACK],
  grant_types: ['authorization_code', 'refresh_token', DEVICE],
  response_types: ['code'],
  ...(scope ? { scope } : {}),
})
const service = (id: string, scope?: string, grants = ['client_credentials']) => ({
  client_id: id,
  client_secret: secret(id),
  grant_types: grants,
  response_types: [],
  ...(scope ? { scope } : {}),
})

// What each client must never get: every management scope, and the resource scopes it does not list.
const NARROW_SCOPE = 'orders:read authz:check'
const forbidden = {
  bare: [...MANAGEMENT_SCOPES, 'authz:check', 'orders:read', 'orders:write'],
  narrow: [...MANAGEMENT_SCOPES, 'orders:write'],
}
const resourceOf = (scope: string) => (scope.startsWith('orders:') ? ORDERS : undefined)

describeOnBackends('client-scopes.test.ts', 'client scopes', ({ kind, redisUrl }) => {
  let server: TestServer
  let admin: string
  const discover = (id: string) =>
    oidc.discovery(new URL(server.url), id, secret(id), oidc.ClientSecretBasic(secret(id)), {
      execute: [oidc.allowInsecureRequests],
    })

  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    const { doc, problems } = await validateDocument(server.container, {
      // Users hold resource scopes only through roles named on them (issue 10 §1, users).
      resources: [
        {
          indicator: ORDERS,
          scopes: [
            { name: 'orders:read', roles: ['clerk'] },
            { name: 'orders:write', roles: ['clerk'] },
          ],
          access_token_format: 'jwt',
        },
      ],
      clients: [
        service('bare-svc'),
        service('narrow-svc', NARROW_SCOPE),
        web('bare-web'),
        web('narrow-web', `openid offline_access ${NARROW_SCOPE}`),
        web('wide-web', 'openid offline_access orders:read orders:write'),
        service('bare-gateway', undefined, [TOKEN_EXCHANGE_GRANT]),
        service('narrow-gateway', 'orders:read', [TOKEN_EXCHANGE_GRANT]),
        service('keyed-svc', 'orders:read orders:write', ['client_credentials']),
        // The README's resource-server example before issue 10: no scope, only resource_servers.
        { ...service('orders-api'), resource_servers: [ORDERS] },
      ],
      users: [{ email: 'ann@example.com', password: PASSWORD, roles: ['admin', 'authz:check', 'clerk'] }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    await registerServiceClients(server, [{ id: 'root', scope: 'apikeys:admin admin' }])
    admin = await apiToken(server, 'root', 'apikeys:admin admin')
  })
  afterAll(async () => {
    await server?.close()
  })

  it('client credentials: no management or unlisted resource scope, alone or next to an allowed one', async () => {
    for (const [id, refused] of [
      ['bare-svc', forbidden.bare],
      ['narrow-svc', forbidden.narrow],
    ] as const) {
      const config = await discover(id)
      for (const scope of refused) {
        const resource = resourceOf(scope)
        await expect(
          oidc.clientCredentialsGrant(config, { scope, ...(resource ? { resource } : {}) }),
          `${id} ${scope}`,
        ).rejects.toMatchObject({ error: 'invalid_scope' })
      }
    }
    // An allowed scope does not smuggle a forbidden one in.
    await expect(
      oidc.clientCredentialsGrant(await discover('narrow-svc'), { scope: 'authz:check admin' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' })
    // Without any scope asked, a token for our API carries no scope at all.
    const plain = await oidc.clientCredentialsGrant(await discover('bare-svc'), { resource: `${server.url}/api` })
    const claims = jose.decodeJwt(plain.access_token)
    expect(claims.scope ?? '').toBe('')
    expect((await call(server, 'GET', '/apikeys/v1/keys', plain.access_token)).status).toBe(403)
    // What is listed still works.
    const ok = await oidc.clientCredentialsGrant(await discover('narrow-svc'), {
      scope: 'orders:read',
      resource: ORDERS,
    })
    expect(jose.decodeJwt(ok.access_token)).toMatchObject({ scope: 'orders:read', aud: ORDERS })
  })

  it("the README's resource server cannot mint an admin key for itself, and with scope apikeys:verify gets only that", async () => {
    const rs = await discover('orders-api')
    await expect(oidc.clientCredentialsGrant(rs, { scope: 'apikeys:admin' })).rejects.toMatchObject({
      error: 'invalid_scope',
    })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [{ ...service('orders-api', 'apikeys:verify'), resource_servers: [ORDERS] }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    const verifier = await oidc.clientCredentialsGrant(rs, { scope: 'apikeys:verify' })
    expect(jose.decodeJwt(verifier.access_token).scope).toBe('apikeys:verify')
    expect(
      (
        await call(server, 'POST', '/apikeys/v1/keys', verifier.access_token, {
          owner: 'user:ann@example.com',
          name: 'x',
          scopes: ['admin'],
        })
      ).status,
    ).toBe(403)
    await expect(oidc.clientCredentialsGrant(rs, { scope: 'apikeys:verify apikeys:admin' })).rejects.toMatchObject({
      error: 'invalid_scope',
    })
  })

  async function authorize(id: string, params: Record<string, string>, par = false) {
    const config = await discover(id)
    const verifier = oidc.randomPKCECodeVerifier()
    const all = {
      redirect_uri: CALLBACK,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      prompt: 'consent',
      ...params,
    }
    const url = par ? await oidc.buildAuthorizationUrlWithPAR(config, all) : oidc.buildAuthorizationUrl(config, all)
    return { config, verifier, url }
  }

  it('authorization code and PAR: a management or unlisted resource scope is invalid_scope before anyone signs in; the OpenID scopes work', async () => {
    for (const [id, refused] of [
      ['bare-web', forbidden.bare],
      ['narrow-web', forbidden.narrow],
    ] as const) {
      for (const scope of refused) {
        const resource = resourceOf(scope)
        const params = { scope: `openid ${scope}`, ...(resource ? { resource } : {}) }
        const { url } = await authorize(id, params)
        const ua = new UserAgent(server.url)
        const { url: landed } = await ua.follow(await ua.request(url), (u) => u.origin !== new URL(server.url).origin)
        expect(landed.origin + landed.pathname, `${id} ${scope}`).toBe(CALLBACK)
        expect(landed.searchParams.get('error'), `${id} ${scope}`).toBe('invalid_scope')
        await expect(authorize(id, params, true), `PAR ${id} ${scope}`).rejects.toMatchObject({
          error: 'invalid_scope',
        })
      }
    }
    // What a client without scope does get: the OpenID scopes and refresh tokens.
    const { config, verifier, url } = await authorize('bare-web', { scope: 'openid profile email offline_access' })
    const { callback } = await signIn(new UserAgent(server.url), url, { email: 'ann@example.com', password: PASSWORD })
    const tokens = await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier })
    expect(tokens.scope!.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile'])
    expect(tokens.refresh_token).toBeTruthy()
    // Refreshing for a resource or with more scope yields nothing the client was not given.
    await expect(
      oidc.refreshTokenGrant(config, tokens.refresh_token!, { scope: 'openid admin' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' })
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: ORDERS })).rejects.toMatchObject({
      error: 'invalid_target',
    })
  })

  it('refresh: a grant from before the client was narrowed yields only what the client may hold now', async () => {
    const { config, verifier, url } = await authorize('wide-web', {
      scope: 'openid offline_access orders:read orders:write',
      resource: ORDERS,
    })
    const { callback } = await signIn(new UserAgent(server.url), url, { email: 'ann@example.com', password: PASSWORD })
    const first = await oidc.authorizationCodeGrant(
      config,
      callback!,
      { pkceCodeVerifier: verifier },
      { resource: ORDERS },
    )
    expect(String(jose.decodeJwt(first.access_token).scope).split(' ').sort()).toEqual(['orders:read', 'orders:write'])
    const { doc, problems } = await validateDocument(server.container, {
      clients: [web('wide-web', 'openid offline_access orders:read')],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    const second = await oidc.refreshTokenGrant(config, first.refresh_token!, { resource: ORDERS })
    expect(jose.decodeJwt(second.access_token)).toMatchObject({ aud: ORDERS, scope: 'orders:read' })
  })

  it('device authorization: a management or unlisted resource scope is invalid_scope', async () => {
    for (const [id, refused] of [
      ['bare-web', forbidden.bare],
      ['narrow-web', forbidden.narrow],
    ] as const) {
      const config = await discover(id)
      for (const scope of refused) {
        await expect(
          oidc.initiateDeviceAuthorization(config, { scope: `openid ${scope}` }),
          `${id} ${scope}`,
        ).rejects.toMatchObject({ error: 'invalid_scope' })
      }
      // openid is in both clients' scope.
      expect((await oidc.initiateDeviceAuthorization(config, { scope: 'openid' })).user_code).toBeTruthy()
    }
  })

  it("API key exchange: a client's registered scope bounds what a key becomes through it", async () => {
    const exchange = (config: oidc.Configuration, key: string, extra: Record<string, string> = {}) =>
      oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
        subject_token: key,
        subject_token_type: API_KEY_TOKEN_TYPE,
        ...extra,
      })
    const k = await issue(server, admin, {
      owner: 'user:ann@example.com',
      name: 'laptop',
      scopes: ['authz:check', 'orders:read'],
      level: 'LOW',
    })
    // Through a client without scope: neither the API's scope nor a resource scope.
    await expect(exchange(await discover('bare-gateway'), k.key)).rejects.toMatchObject({ error: 'invalid_scope' })
    await expect(
      exchange(await discover('bare-gateway'), k.key, { resource: ORDERS, scope: 'orders:read' }),
    ).rejects.toMatchObject({ error: 'invalid_scope' })
    // Through a client with scope orders:read: that, and not authz:check.
    const narrow = await discover('narrow-gateway')
    expect(jose.decodeJwt((await exchange(narrow, k.key, { resource: ORDERS })).access_token)).toMatchObject({
      scope: 'orders:read',
      client_id: 'narrow-gateway',
    })
    await expect(exchange(narrow, k.key, { scope: 'authz:check' })).rejects.toMatchObject({ error: 'invalid_scope' })

    // A service account's key is bounded by the account's scope now, not when the key was made.
    const own = await issue(server, admin, {
      owner: 'client:keyed-svc',
      name: 'ci',
      scopes: ['orders:read', 'orders:write'],
      level: 'LOW',
    })
    const rp = await oidc.discovery(new URL(server.url), 'apikey-exchange', undefined, oidc.None(), {
      execute: [oidc.allowInsecureRequests],
    })
    expect(
      String(jose.decodeJwt((await exchange(rp, own.key, { resource: ORDERS })).access_token).scope)
        .split(' ')
        .sort(),
    ).toEqual(['orders:read', 'orders:write'])
    const { doc, problems } = await validateDocument(server.container, {
      clients: [service('keyed-svc', 'orders:read')],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    expect(jose.decodeJwt((await exchange(rp, own.key, { resource: ORDERS })).access_token).scope).toBe('orders:read')
    await expect(exchange(rp, own.key, { resource: ORDERS, scope: 'orders:write' })).rejects.toMatchObject({
      error: 'invalid_scope',
    })
  })

  it('the compliance report lists every client and every API key that can obtain a management scope', async () => {
    await registerServiceClients(server, [
      { id: 'siem', scope: 'audit:read' },
      { id: 'verifier', scope: 'apikeys:verify' },
      { id: 'self-service', scope: 'apikeys:manage authz:check' },
    ])
    const reader = await apiToken(server, 'siem', 'audit:read')
    const manage = await issue(server, admin, {
      owner: 'user:ann@example.com',
      name: 'manage',
      scopes: ['apikeys:manage', 'authz:check'],
      level: 'LOW',
    })
    const plain = await issue(server, admin, {
      owner: 'user:ann@example.com',
      name: 'plain',
      scopes: ['authz:check'],
      level: 'LOW',
    })
    const r = await call(server, 'GET', '/audit/v1/report', reader)
    expect(r.status).toBe(200)
    const admins = r.body.administrators as {
      clients: { client_id: string; scopes: string[] }[]
      api_keys: { id: string; scopes: string[] }[]
    }
    expect(admins.clients).toEqual(
      expect.arrayContaining([
        { client_id: 'siem', scopes: ['audit:read'] },
        { client_id: 'verifier', scopes: ['apikeys:verify'] },
        { client_id: 'self-service', scopes: ['apikeys:manage'] },
        { client_id: 'root', scopes: ['apikeys:admin', 'admin'] },
      ]),
    )
    // Clients without scope, or with resource scopes only, cannot obtain one.
    const listed = admins.clients.map((c) => c.client_id)
    for (const id of ['bare-svc', 'bare-web', 'narrow-svc', 'narrow-web', 'bare-gateway'])
      expect(listed, id).not.toContain(id)
    expect(admins.api_keys).toContainEqual(
      expect.objectContaining({ id: manage.id, scopes: ['apikeys:manage'], owner: expect.stringMatching(/^user:/) }),
    )
    expect(admins.api_keys.map((k) => k.id)).not.toContain(plain.id)
    const html = await (
      await fetch(`${server.url}/audit/v1/report`, {
        headers: { authorization: `Bearer ${reader}`, accept: 'text/html' },
      })
    ).text()
    expect(html).toContain('API keys carrying management scopes')
    expect(html).toContain(manage.id)
  })
})

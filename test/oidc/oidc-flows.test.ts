import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { oauthError } from '../helpers/oauth-errors.ts'
import { field, formAction, signIn as signInAs, UserAgent } from '../helpers/user-agent.ts'

/**
 * Every flow discovery advertises, driven by the real openid-client v6 as the relying party
 * against a real listening portcullis: once on SQLite (embedded mode) and once on
 * PostgreSQL + Redis (scale-out mode) when those are available.
 */
const variants = [
  { name: 'SQLite', skip: false, kind: 'sqlite' as const, redis: undefined as string | undefined },
  {
    name: 'PostgreSQL + Redis',
    skip: !pgTestUrl() || !redisTestUrl(),
    kind: 'postgresql' as const,
    redis: redisTestUrl(),
  },
]
if (!pgTestUrl() || !redisTestUrl())
  console.warn(
    'OIDC end-to-end suite on PostgreSQL + Redis skipped: set TEST_DATABASE_URL and TEST_REDIS_URL to run it',
  )

const API = 'https://api.example.com'
const OPAQUE_API = 'https://ledger.example.com'
const SHORT_API = 'https://short.example.com'
const CALLBACK = 'https://app.example.com/cb'
const AFTER_LOGOUT = 'https://app.example.com/bye'
const PASSWORD = 'quiet river lamp orbit'

const document = {
  resources: [
    { indicator: API, scopes: ['orders:read', 'orders:write'], access_token_format: 'jwt', access_token_ttl: 600 },
    { indicator: OPAQUE_API, scopes: ['ledger:read'], access_token_format: 'opaque' },
    // 3 s: expiry is counted in whole seconds, so a 1 s token could be expired before its first use on a loaded machine
    { indicator: SHORT_API, scopes: ['short:read'], access_token_format: 'opaque', access_token_ttl: 3 },
  ],
  clients: [
    {
      client_id: 'svc',
      client_secret: 'svc-secret-0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'orders:read ledger:read short:read',
    },
    {
      client_id: 'other',
      client_secret: 'other-secret-0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      client_id: 'ledger-rs',
      client_secret: 'ledger-secret-0123456789abcdef',
      grant_types: ['client_credentials'],
      response_types: [],
      resource_servers: [OPAQUE_API],
    },
    {
      client_id: 'web',
      client_secret: 'web-secret-0123456789abcdef',
      client_name: 'Web App',
      redirect_uris: [CALLBACK],
      post_logout_redirect_uris: [AFTER_LOGOUT],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      scope: 'openid email profile roles offline_access orders:read',
    },
    {
      client_id: 'spa',
      token_endpoint_auth_method: 'none',
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid email offline_access',
    },
  ],
  users: [{ email: 'ann@example.com', password: PASSWORD, name: 'Ann', roles: ['admin'] }],
}

describe.each(variants)('OIDC end to end on $name', ({ skip, kind, redis }) => {
  let server: TestServer
  let issuer: URL
  const discover = (clientId: string, secret?: string, auth?: oidc.ClientAuth) =>
    oidc.discovery(issuer, clientId, secret, auth ?? (secret ? oidc.ClientSecretBasic(secret) : undefined), {
      execute: [oidc.allowInsecureRequests],
    })

  beforeAll(async () => {
    if (skip) return
    server = await startTestServer({ kind, redisUrl: redis })
    issuer = new URL(server.url)
    const { doc, problems } = await validateDocument(server.container, document)
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    await server?.close()
  })

  const signIn = (ua: UserAgent, authUrl: URL, password = PASSWORD) =>
    signInAs(ua, authUrl, { email: 'ann@example.com', password })

  async function codeFlow(config: oidc.Configuration, extra: Record<string, string> = {}) {
    const verifier = oidc.randomPKCECodeVerifier()
    const state = oidc.randomState()
    const ua = new UserAgent(server.url)
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid email profile roles offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    })
    const { callback } = await signIn(ua, url)
    return { ua, callback: callback!, verifier, state }
  }

  describe.skipIf(skip)('flows', () => {
    it('advertises only endpoints that answer, and signs with the published keys', async () => {
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      const meta = config.serverMetadata()
      expect(meta.issuer).toBe(server.url)
      for (const key of [
        'authorization_endpoint',
        'token_endpoint',
        'userinfo_endpoint',
        'jwks_uri',
        'introspection_endpoint',
        'revocation_endpoint',
        'end_session_endpoint',
        'pushed_authorization_request_endpoint',
        'device_authorization_endpoint',
      ] as const) {
        expect(meta[key], key).toMatch(new RegExp(`^${server.url}/`))
      }
      expect(meta.code_challenge_methods_supported).toEqual(['S256'])
      expect(meta.response_types_supported).not.toContain('id_token token')
      expect(meta.token_endpoint_auth_methods_supported).not.toContain('client_secret_jwt')
      expect(meta.dpop_signing_alg_values_supported).toContain('ES256')
      const jwks = (await (await fetch(meta.jwks_uri!)).json()) as { keys: jose.JWK[] }
      // three signing keys and the request-object encryption key (RFC 9101 §6.1)
      expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
      expect(jwks.keys.filter((k) => k.use === 'enc').map((k) => k.alg)).toEqual(['RSA-OAEP-256'])
      for (const k of jwks.keys) expect(k).not.toHaveProperty('d') // public parts only
    })

    it('client credentials: a JWT access token (RFC 9068) for a JWT resource, verifiable against the JWKS', async () => {
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'orders:read', resource: API })
      expect(tokens.token_type.toLowerCase()).toBe('bearer')
      const { payload, protectedHeader } = await jose.jwtVerify(
        tokens.access_token,
        jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)),
        {
          issuer: server.url,
          audience: API,
          typ: 'at+jwt',
        },
      )
      expect(protectedHeader.alg).toBe('ES256') // the default for a resource without access_token_signing_alg (issue 16 §1)
      expect(payload).toMatchObject({ client_id: 'svc', scope: 'orders:read', sub: 'svc' })
      expect(typeof payload.jti).toBe('string')
      expect(payload.exp! - payload.iat!).toBe(600)
    })

    it('client credentials: opaque tokens without a resource, or for an opaque resource, and they introspect', async () => {
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      const plain = await oidc.clientCredentialsGrant(config, {})
      expect(plain.access_token.split('.')).toHaveLength(1)
      expect(await oidc.tokenIntrospection(config, plain.access_token)).toMatchObject({
        active: true,
        client_id: 'svc',
        token_type: 'Bearer',
      })

      const ledger = await oidc.clientCredentialsGrant(config, { scope: 'ledger:read', resource: OPAQUE_API })
      expect(ledger.access_token.split('.')).toHaveLength(1)
      const intro = await oidc.tokenIntrospection(config, ledger.access_token)
      expect(intro).toMatchObject({ active: true, client_id: 'svc', scope: 'ledger:read', aud: OPAQUE_API })
    })

    it('client credentials: a wrong secret, an unknown client, or an unregistered scope is refused', async () => {
      const wrong = await discover('svc', 'not-the-secret-0123456789')
      expect(await oauthError(oidc.clientCredentialsGrant(wrong, {}))).toEqual({ error: 'invalid_client', status: 401 })
      const unknown = await discover('nobody', 'whatever-secret-0123456789')
      expect(await oauthError(oidc.clientCredentialsGrant(unknown, {}))).toEqual({
        error: 'invalid_client',
        status: 401,
      })
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      await expect(oidc.clientCredentialsGrant(config, { scope: 'orders:write', resource: API })).rejects.toMatchObject(
        { error: 'invalid_scope' },
      )
      await expect(
        oidc.clientCredentialsGrant(config, { resource: 'https://unknown.example.com' }),
      ).rejects.toMatchObject({ error: 'invalid_target' })
    })

    it('malformed token requests get a 400 with an OAuth error, never a 500', async () => {
      const token = `${server.url}/token`
      const basic = `Basic ${Buffer.from('svc:svc-secret-0123456789abcdef').toString('base64')}`
      const cases: [string, Record<string, string>][] = [
        ['grant_type=', { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }],
        ['grant_type=magic', { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }],
        ['{"grant_type":"client_credentials"}', { authorization: basic, 'content-type': 'application/json' }],
        [
          'grant_type=client_credentials&grant_type=client_credentials',
          { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        ],
        [
          'grant_type=client_credentials&resource=not%20a%20uri',
          { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        ],
      ]
      for (const [body, headers] of cases) {
        const res = await fetch(token, { method: 'POST', body, headers })
        expect(res.status, body).toBeGreaterThanOrEqual(400)
        expect(res.status, body).toBeLessThan(500)
        expect(((await res.json()) as { error: string }).error, body).toMatch(
          /^(invalid_request|unsupported_grant_type|invalid_client|invalid_target)$/,
        )
      }
    })

    it('authorization code + PKCE: login page, consent, tokens, id token claims and userinfo', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const { callback, verifier, state } = await codeFlow(config)
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      const claims = tokens.claims()!
      const user = await server.container.users.findByEmail('ann@example.com')
      expect(claims.sub).toBe(user!.id)
      expect(claims.amr, JSON.stringify(claims)).toEqual(['pwd'])
      expect(claims.acr).toBe('urn:portcullis:acr:pwd')
      expect(claims.auth_time).toBeGreaterThan(Date.now() / 1000 - 60)
      // OIDC Core §5.4: scope claims go to userinfo when an access token is issued
      expect(tokens.refresh_token).toBeTruthy()
      const info = await oidc.fetchUserInfo(config, tokens.access_token, user!.id)
      expect(info).toMatchObject({ sub: user!.id, email: 'ann@example.com', name: 'Ann', roles: ['admin'] })
      // the tokens never appear in a URL the browser saw: only the code does
      expect(callback.searchParams.get('code')).toBeTruthy()
      expect(callback.searchParams.has('access_token')).toBe(false)
    })

    it('a wrong password shows the login page again with one message for every failure', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const verifier = oidc.randomPKCECodeVerifier()
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      const result = await signIn(new UserAgent(server.url), url, 'not the password at all')
      expect(result.failed).toContain('Email or password is incorrect.')
      const failures = await server.container.queries.audit.list({ action: 'login' })
      expect(failures.some((e) => e.outcome === 'failure')).toBe(true)
    })

    it('refresh tokens rotate; reusing an old one revokes the whole grant', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const { callback, verifier, state } = await codeFlow(config)
      const first = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      const second = await oidc.refreshTokenGrant(config, first.refresh_token!)
      expect(second.refresh_token).toBeTruthy()
      expect(second.refresh_token).not.toBe(first.refresh_token)
      expect((await oidc.tokenIntrospection(config, second.access_token)).active).toBe(true)
      // RFC 9700 §4.14.2: a replayed refresh token is treated as stolen
      await expect(oidc.refreshTokenGrant(config, first.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      })
      await expect(oidc.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      })
      expect((await oidc.tokenIntrospection(config, second.access_token)).active).toBe(false)
    })

    it('a code can be used once; using it again revokes the tokens it gave', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const { callback, verifier, state } = await codeFlow(config)
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(true)
      await expect(
        oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      ).rejects.toMatchObject({ error: 'invalid_grant' })
      expect((await oidc.tokenIntrospection(config, tokens.access_token)).active).toBe(false)
      await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({
        error: 'invalid_grant',
      })
    })

    it('a PKCE verifier that does not match the challenge is refused', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const { callback, state } = await codeFlow(config)
      await expect(
        oidc.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier: oidc.randomPKCECodeVerifier(),
          expectedState: state,
        }),
      ).rejects.toMatchObject({ error: 'invalid_grant' })
    })

    it('public clients must use PKCE S256; with it they complete the flow', async () => {
      const config = await discover('spa', undefined, oidc.None())
      const ua = new UserAgent(server.url)
      const noPkce = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid' })
      const hop = await ua.follow(await ua.request(noPkce), (u) => u.origin !== issuer.origin)
      expect(hop.url.origin + hop.url.pathname).toBe(CALLBACK)
      expect(hop.url.searchParams.get('error')).toBe('invalid_request')
      expect(hop.url.searchParams.get('error_description')).toMatch(/PKCE/)

      const plain = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'plain',
      })
      const plainHop = await ua.follow(await ua.request(plain), (u) => u.origin !== issuer.origin)
      expect(plainHop.url.searchParams.get('error')).toBe('invalid_request')

      const verifier = oidc.randomPKCECodeVerifier()
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 's1',
      })
      const { callback } = await signIn(ua, url)
      const tokens = await oidc.authorizationCodeGrant(config, callback!, {
        pkceCodeVerifier: verifier,
        expectedState: 's1',
      })
      expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe(
        'ann@example.com',
      )
    })

    it('an unregistered redirect_uri gets an error page and no redirect', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: 'https://evil.example.com/cb',
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      })
      const res = await new UserAgent(server.url).request(url)
      expect(res.status).toBe(400)
      expect(res.headers.get('location')).toBeNull()
      const html = await res.text()
      expect(html).toContain('redirect_uri')
      expect(html).not.toContain('evil.example.com/cb?')
    })

    it('introspection: a client sees its own tokens, a registered resource server sees tokens for it, nobody else', async () => {
      const svc = await discover('svc', 'svc-secret-0123456789abcdef')
      const ledgerToken = (await oidc.clientCredentialsGrant(svc, { scope: 'ledger:read', resource: OPAQUE_API }))
        .access_token
      const other = await discover(
        'other',
        'other-secret-0123456789abcdef',
        oidc.ClientSecretPost('other-secret-0123456789abcdef'),
      )
      expect(await oidc.tokenIntrospection(other, ledgerToken)).toEqual({ active: false })
      const rs = await discover('ledger-rs', 'ledger-secret-0123456789abcdef')
      expect(await oidc.tokenIntrospection(rs, ledgerToken)).toMatchObject({
        active: true,
        client_id: 'svc',
        aud: OPAQUE_API,
      })
      // ...but a resource server for another API does not see unrelated tokens
      const plain = (await oidc.clientCredentialsGrant(svc, {})).access_token
      expect(await oidc.tokenIntrospection(rs, plain)).toEqual({ active: false })
      // and wrong credentials at the introspection endpoint are a 401
      const wrong = await discover('svc', 'wrong-secret-0123456789abcdef')
      expect(await oauthError(oidc.tokenIntrospection(wrong, plain))).toEqual({ error: 'invalid_client', status: 401 })
    })

    it('introspection: an expired token is inactive', async () => {
      const svc = await discover('svc', 'svc-secret-0123456789abcdef')
      const token = (await oidc.clientCredentialsGrant(svc, { scope: 'short:read', resource: SHORT_API })).access_token
      expect((await oidc.tokenIntrospection(svc, token)).active).toBe(true)
      await new Promise((r) => setTimeout(r, 4100))
      expect(await oidc.tokenIntrospection(svc, token)).toEqual({ active: false })
    })

    it('revocation: a revoked token is inactive; another client cannot revoke it', async () => {
      const svc = await discover('svc', 'svc-secret-0123456789abcdef')
      const token = (await oidc.clientCredentialsGrant(svc, {})).access_token
      const other = await discover(
        'other',
        'other-secret-0123456789abcdef',
        oidc.ClientSecretPost('other-secret-0123456789abcdef'),
      )
      await expect(oidc.tokenRevocation(other, token)).rejects.toMatchObject({ error: 'invalid_request' })
      expect((await oidc.tokenIntrospection(svc, token)).active).toBe(true)
      await oidc.tokenRevocation(svc, token)
      expect(await oidc.tokenIntrospection(svc, token)).toEqual({ active: false })
      // audited by client and token kind, never with the token itself
      const revoked = await server.container.audit.list({ action: 'token.revoked' })
      expect(
        revoked.some(
          (e) =>
            e.actor === 'svc' &&
            (e.details as { kind?: string }).kind === 'ClientCredentials' &&
            /^[0-9a-f-]{36}$/.test(e.requestId ?? ''),
        ),
      ).toBe(true)
      expect(JSON.stringify(revoked)).not.toContain(token)
      // RFC 7009 §2.2: an unknown token is not an error
      await oidc.tokenRevocation(svc, 'not-a-token')
    })

    it('RP-initiated logout ends the session and returns to the registered URI', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const { ua, callback, verifier, state } = await codeFlow(config)
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      // while signed in, a new authorization needs no login form
      const again = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      const silent = await ua.follow(await ua.request(again), (u) => u.origin !== issuer.origin)
      expect(silent.url.searchParams.get('code')).toBeTruthy()

      const end = oidc.buildEndSessionUrl(config, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: AFTER_LOGOUT,
        state: 'bye',
      })
      const page = await ua.request(end)
      expect(page.status).toBe(200)
      const html = await page.text()
      const done = await ua.request(formAction(html, '/session/end'), {
        form: { xsrf: field(html, 'xsrf'), logout: 'yes' },
      })
      const hop = await ua.follow(done, (u) => u.origin !== issuer.origin)
      expect(hop.url.origin + hop.url.pathname).toBe(AFTER_LOGOUT)
      expect(hop.url.searchParams.get('state')).toBe('bye')

      const after = await ua.follow(await ua.request(again), (u) => u.origin !== issuer.origin)
      expect(after.res, 'a login page, not a code').toBeDefined()
      expect(await after.res!.text()).toContain('name="password"')
    })

    it('pushed authorization requests (PAR) work end to end', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const verifier = oidc.randomPKCECodeVerifier()
      const url = await oidc.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: CALLBACK,
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: 'par',
        prompt: 'consent',
      })
      expect(url.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/)
      expect(url.searchParams.has('redirect_uri')).toBe(false)
      const { callback } = await signIn(new UserAgent(server.url), url)
      const tokens = await oidc.authorizationCodeGrant(config, callback!, {
        pkceCodeVerifier: verifier,
        expectedState: 'par',
      })
      expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe(
        'ann@example.com',
      )
    })

    it('device authorization grant: the user enters the code on /device, signs in, and the device gets tokens', async () => {
      const config = await discover('web', 'web-secret-0123456789abcdef')
      const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' })
      expect(started.user_code).toBeTruthy()
      const ua = new UserAgent(server.url)
      const page = await ua.request(started.verification_uri)
      const html = await page.text()
      const submitted = await ua.request(formAction(html, '/device'), {
        form: { xsrf: field(html, 'xsrf'), user_code: started.user_code },
      })
      // the confirmation page repeats the code so the user can compare it with the device
      const confirmHtml = await submitted.text()
      expect(confirmHtml).toContain(started.user_code)
      const confirmed = await ua.request(formAction(confirmHtml, '/device'), {
        form: { xsrf: field(confirmHtml, 'xsrf'), user_code: field(confirmHtml, 'user_code'), confirm: 'yes' },
      })
      const hop = await ua.follow(confirmed, (u) => u.origin !== issuer.origin)
      // login, consent
      let res = hop.res!
      for (let i = 0; i < 4; i++) {
        const body = await res.text()
        if (!body.includes('name="csrf"')) {
          expect(body).toContain('Device connected')
          break
        }
        const csrf = field(body, 'csrf')
        const posted = body.includes('name="password"')
          ? await ua.request(formAction(body, '/login'), {
              form: { csrf, email: 'ann@example.com', password: PASSWORD },
            })
          : await ua.request(formAction(body, '/confirm'), { form: { csrf } })
        res = (await ua.follow(posted, () => false)).res!
      }
      const tokens = await oidc.pollDeviceAuthorizationGrant(config, { ...started, interval: 0 })
      expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe(
        'ann@example.com',
      )
    })

    it('DPoP binds client credentials tokens to the caller key (RFC 9449)', async () => {
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair('ES256'))
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'orders:read', resource: API }, { DPoP })
      expect(tokens.token_type.toLowerCase()).toBe('dpop')
      const { payload } = await jose.jwtVerify(
        tokens.access_token,
        jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)),
      )
      expect((payload.cnf as { jkt?: string }).jkt).toMatch(/^[\w-]{43}$/)
    })

    it('key rotation: the new key signs, the old key stays published, old tokens still verify', async () => {
      const config = await discover('svc', 'svc-secret-0123456789abcdef')
      const jwks = jose.createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!), {
        cacheMaxAge: 0,
        cooldownDuration: 0,
      })
      const before = (await oidc.clientCredentialsGrant(config, { scope: 'orders:read', resource: API })).access_token
      const oldKid = jose.decodeProtectedHeader(before).kid
      const rotated = await server.container.keys.rotate(600)
      await server.container.refresh()
      // a generation: three signing keys and the encryption key
      expect(rotated.added.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
      const after = (await oidc.clientCredentialsGrant(config, { scope: 'orders:read', resource: API })).access_token
      const newKid = jose.decodeProtectedHeader(after).kid
      expect(newKid).not.toBe(oldKid)
      expect(rotated.added.map((k) => k.kid)).toContain(newKid)
      const published = (
        (await (await fetch(config.serverMetadata().jwks_uri!)).json()) as { keys: jose.JWK[] }
      ).keys.map((k) => k.kid)
      expect(published).toContain(oldKid)
      expect(published).toContain(newKid)
      await expect(jose.jwtVerify(before, jwks, { issuer: server.url })).resolves.toBeTruthy()
      await expect(jose.jwtVerify(after, jwks, { issuer: server.url })).resolves.toBeTruthy()
    })
  })
})

import crypto from 'node:crypto'
import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { call } from '../helpers/api-client.ts'
import { oauthError } from '../helpers/oauth-errors.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * Issue 10 §2, OAuth/OIDC exactness, over real HTTP with openid-client as the relying party
 * (plain fetch where a standard RP cannot even express the request): JWT access tokens
 * introspect and revoke (on every instance), public clients cannot introspect, client
 * authentication follows the registered method on every client-authenticated endpoint, PKCE
 * by default, a code burns on a failed redemption and a late replay revokes, redirect_uri is
 * required, POST /auth, and CORS only for registered origins where a browser app needs it.
 */
const API = 'https://api.example.com'
const CALLBACK = 'https://app.example.com/cb'
const APP_ORIGIN = 'https://app.example.com'
const EVIL_ORIGIN = 'https://evil.example.net'
const PASSWORD = 'quiet river lamp orbit'
const S = (id: string) => `${id}-secret-0123456789abcdef`

const document = {
  resources: [{ indicator: API, scopes: ['orders:read'], access_token_format: 'jwt', access_token_ttl: 600 }],
  clients: [
    {
      client_id: 'svc',
      client_secret: S('svc'),
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'orders:read audit:read',
    },
    {
      client_id: 'poster',
      client_secret: S('poster'),
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'orders:read',
    },
    {
      client_id: 'orders-rs',
      client_secret: S('orders-rs'),
      grant_types: ['client_credentials'],
      response_types: [],
      resource_servers: [API],
    },
    {
      client_id: 'web',
      client_secret: S('web'),
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
      response_types: ['code'],
      scope: 'openid email offline_access orders:read',
      web_origins: ['https://portal.example.com'],
    },
    {
      client_id: 'legacy',
      client_secret: S('legacy'),
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      scope: 'openid email offline_access',
      require_pkce: false,
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
  users: [{ email: 'ann@example.com', password: PASSWORD, name: 'Ann' }],
}

describeOnBackends('oauth-exactness.test.ts', 'OAuth exactness', ({ kind, redisUrl }) => {
  let a: TestServer
  let b: TestServer
  /** instance B's own address (its PUBLIC_URL is A's: one issuer behind a load balancer) */
  let bUrl: string
  let issuer: URL
  const masterKey = crypto.randomBytes(32).toString('base64')
  const rp = (server: TestServer, id: string, auth?: oidc.ClientAuth) =>
    oidc.discovery(
      new URL(server.url),
      id,
      id === 'spa' ? undefined : S(id),
      auth ?? (id === 'spa' ? oidc.None() : oidc.ClientSecretBasic(S(id))),
      { execute: [oidc.allowInsecureRequests] },
    )

  beforeAll(async () => {
    // Codes live 5 s here so a replay after expiry can be tested without a long wait.
    a = await startTestServer({ kind, redisUrl, masterKey, env: { AUTHORIZATION_CODE_TTL: '5' } })
    // A second instance of the same deployment: same database, master key and Redis prefix.
    b = await startTestServer({
      kind,
      db: a.db,
      masterKey,
      redisUrl,
      env: {
        PUBLIC_URL: a.url,
        AUTHORIZATION_CODE_TTL: '5',
        ...(redisUrl ? { REDIS_PREFIX: a.config.REDIS_PREFIX } : {}),
      },
    })
    bUrl = `http://127.0.0.1:${b.port}`
    issuer = new URL(a.url)
    const { doc, problems } = await validateDocument(a.container, document)
    expect(problems).toEqual([])
    await applyDocument(a.container, doc!)
    await b.container.refresh()
  }, 120_000)
  afterAll(async () => {
    await b?.close()
    await a?.close()
  })

  /** Signs Ann in for `config` and returns the callback URL (code) and the PKCE verifier used. */
  async function authorize(
    config: oidc.Configuration,
    opts: { pkce?: boolean; ua?: UserAgent; scope?: string; resource?: string } = {},
  ) {
    const verifier = oidc.randomPKCECodeVerifier()
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: opts.scope ?? 'openid email offline_access',
      prompt: 'consent',
      ...(opts.resource ? { resource: opts.resource } : {}),
      ...(opts.pkce === false
        ? {}
        : { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }),
    })
    const { callback } = await signIn(opts.ua ?? new UserAgent(a.url), url, {
      email: 'ann@example.com',
      password: PASSWORD,
    })
    return { callback: callback!, verifier }
  }

  /** POSTs a form to an endpoint of `server`, as a client would without an RP library. */
  const post = (
    server: TestServer | string,
    path: string,
    form: Record<string, string>,
    headers: Record<string, string> = {},
  ) =>
    fetch(`${typeof server === 'string' ? server : server.url}${path}`, {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    })
  const basic = (id: string, secret = S(id)) => ({
    authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
  })

  const callB = (path: string, token: string) =>
    fetch(`${bUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })

  /** Polls until `check` is true (every 50 ms, 15 s at most: the box is shared and loaded). */
  async function eventually(check: () => Promise<boolean>) {
    const started = Date.now()
    while (Date.now() - started < 15_000) {
      if (await check()) return true
      await new Promise((r) => setTimeout(r, 50))
    }
    return false
  }

  it('RFC 7662: a JWT access token introspects (200 with its claims) for its client and its resource server; nobody else learns anything', async () => {
    const svc = await rp(a, 'svc')
    const jwt = (await oidc.clientCredentialsGrant(svc, { scope: 'orders:read', resource: API })).access_token
    expect(jwt.split('.')).toHaveLength(3)
    const raw = await post(a, '/token/introspection', { token: jwt }, basic('svc'))
    expect(raw.status).toBe(200) // was 400 unsupported_token_type
    const payload = jose.decodeJwt(jwt)
    expect(await raw.json()).toMatchObject({
      active: true,
      client_id: 'svc',
      aud: API,
      scope: 'orders:read',
      jti: payload.jti,
      exp: payload.exp,
      iss: a.url,
      token_type: 'Bearer',
    })
    expect(await oidc.tokenIntrospection(await rp(a, 'orders-rs'), jwt)).toMatchObject({
      active: true,
      client_id: 'svc',
      aud: API,
    })
    // another instance answers the same
    expect(await (await post(bUrl, '/token/introspection', { token: jwt }, basic('orders-rs'))).json()).toMatchObject({
      active: true,
      jti: payload.jti,
    })
    // wrong authority: a client that neither owns nor serves the token
    expect(await oidc.tokenIntrospection(await rp(a, 'poster', oidc.ClientSecretPost(S('poster'))), jwt)).toEqual({
      active: false,
    })
    // wrong credential
    expect(
      await oauthError(
        oidc.tokenIntrospection(await rp(a, 'svc', oidc.ClientSecretBasic('not-the-secret-0123456789')), jwt),
      ),
    ).toEqual({ status: 401, error: 'invalid_client' })
    // hostile input: a JWT signed by someone else with our claims, a JWT-looking string, an alg=none token
    const { privateKey } = await jose.generateKeyPair('RS256')
    const forged = await new jose.SignJWT({ ...payload })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: jose.decodeProtectedHeader(jwt).kid })
      .sign(privateKey)
    const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${jwt.split('.')[1]}.`
    for (const token of [forged, unsigned, 'eyJhbGciOiJSUzI1NiJ9.e30.AAAA', `${jwt.slice(0, -4)}AAAA`]) {
      const res = await post(a, '/token/introspection', { token }, basic('svc'))
      expect(res.status, token).toBe(200)
      expect(await res.json(), token).toEqual({ active: false })
    }
  })

  it('RFC 7009: a revoked JWT access token is inactive on every instance, for introspection and for our own APIs', async () => {
    const svc = await rp(a, 'svc')
    const jwt = (await oidc.clientCredentialsGrant(svc, { scope: 'audit:read' })).access_token
    expect(jose.decodeJwt(jwt).aud).toBe(`${a.url}/api`)
    // used (and cached as verified) on both instances first
    expect((await call(a, 'GET', '/audit/v1/events?limit=1', jwt)).status).toBe(200)
    expect((await callB('/audit/v1/events?limit=1', jwt)).status).toBe(200)
    // wrong authority: a confidential client cannot revoke another's token; a public one gets a plain 200 and
    // changes nothing
    expect(
      await oauthError(oidc.tokenRevocation(await rp(a, 'poster', oidc.ClientSecretPost(S('poster'))), jwt)),
    ).toMatchObject({ error: 'invalid_request' })
    expect((await post(a, '/token/revocation', { token: jwt, client_id: 'spa' })).status).toBe(200)
    expect((await oidc.tokenIntrospection(svc, jwt)).active).toBe(true)
    // the client it was issued to revokes it at instance A (was 400 unsupported_token_type)
    const revoked = await post(a, '/token/revocation', { token: jwt }, basic('svc'))
    expect(revoked.status).toBe(200)
    expect(await oidc.tokenIntrospection(svc, jwt)).toEqual({ active: false })
    // instance B: introspection asks the database, so at once; its API within a moment
    expect(await (await post(bUrl, '/token/introspection', { token: jwt }, basic('svc'))).json()).toEqual({
      active: false,
    })
    expect(await eventually(async () => (await callB('/audit/v1/events?limit=1', jwt)).status === 401)).toBe(true)
    expect((await call(a, 'GET', '/audit/v1/events?limit=1', jwt)).status).toBe(401)
    // a fresh token of the same client still works: only that token was revoked
    const fresh = (await oidc.clientCredentialsGrant(svc, { scope: 'audit:read' })).access_token
    expect((await callB('/audit/v1/events?limit=1', fresh)).status).toBe(200)
    // audited, without the token
    const events = await a.container.audit.list({ action: 'token.revoked' })
    expect(events.some((e) => e.actor === 'svc')).toBe(true)
    expect(JSON.stringify(events)).not.toContain(jwt)
    // a server started after the revocation knows it too
    const c = await startTestServer({
      kind,
      db: a.db,
      masterKey,
      redisUrl,
      env: { PUBLIC_URL: a.url, ...(redisUrl ? { REDIS_PREFIX: a.config.REDIS_PREFIX } : {}) },
    })
    try {
      const cUrl = `http://127.0.0.1:${c.port}`
      expect(
        (await fetch(`${cUrl}/audit/v1/events?limit=1`, { headers: { authorization: `Bearer ${fresh}` } })).status,
      ).toBe(200)
      expect(
        (await fetch(`${cUrl}/audit/v1/events?limit=1`, { headers: { authorization: `Bearer ${jwt}` } })).status,
      ).toBe(401)
    } finally {
      await c.shutdown()
    }
  }, 60_000)

  it('RFC 7662 §2.1: a public client cannot introspect, not even its own token (401 invalid_client)', async () => {
    const spa = await rp(a, 'spa')
    const { callback, verifier } = await authorize(spa)
    const tokens = await oidc.authorizationCodeGrant(spa, callback, { pkceCodeVerifier: verifier })
    expect(await oauthError(oidc.tokenIntrospection(spa, tokens.access_token))).toEqual({
      status: 401,
      error: 'invalid_client',
    })
    const res = await post(a, '/token/introspection', { token: tokens.access_token, client_id: 'spa' })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringContaining('RFC 7662'),
    })
    // the token itself is fine: the confidential client that serves... nobody; the userinfo endpoint takes it
    expect((await oidc.fetchUserInfo(spa, tokens.access_token, tokens.claims()!.sub)).email).toBe('ann@example.com')
  })

  it('client authentication follows token_endpoint_auth_method exactly on token, introspection, revocation, PAR and device endpoints', async () => {
    const endpoints: [string, Record<string, string>][] = [
      ['/token', { grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) }],
      ['/token/introspection', { token: 'x'.repeat(43) }],
      ['/token/revocation', { token: 'x'.repeat(43) }],
      [
        '/request',
        {
          client_id: 'web',
          response_type: 'code',
          redirect_uri: CALLBACK,
          scope: 'openid',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuwGrEZ6hHE',
          code_challenge_method: 'S256',
        },
      ],
      ['/device/auth', { scope: 'openid' }],
    ]
    for (const [path, form] of endpoints) {
      // `web` is registered for client_secret_basic (the default): the right secret in the body is refused
      const inBody = await post(a, path, { ...form, client_id: 'web', client_secret: S('web') })
      expect(inBody.status, `${path} basic client, secret in body`).toBe(401)
      expect(((await inBody.json()) as { error: string }).error, path).toBe('invalid_client')
      // ...and in the Authorization header it is accepted
      const inHeader = await post(a, path, form, basic('web'))
      if (path === '/token')
        expect(await inHeader.json(), path).toMatchObject({ error: 'invalid_grant' }) // authenticated; the token is made up
      else expect([200, 201], `${path} basic client, Basic header`).toContain(inHeader.status)
    }
    // `poster` is registered for client_secret_post: Basic is refused, the body accepted
    const asBasic = await post(a, '/token', { grant_type: 'client_credentials' }, basic('poster'))
    expect(asBasic.status).toBe(401)
    expect(((await asBasic.json()) as { error: string }).error).toBe('invalid_client')
    expect(
      (await post(a, '/token', { grant_type: 'client_credentials', client_id: 'poster', client_secret: S('poster') }))
        .status,
    ).toBe(200)
    // openid-client, configured with the wrong method, gets invalid_client too
    expect(
      await oauthError(oidc.clientCredentialsGrant(await rp(a, 'svc', oidc.ClientSecretPost(S('svc'))), {})),
    ).toEqual({ status: 401, error: 'invalid_client' })
    expect(
      await oauthError(oidc.clientCredentialsGrant(await rp(a, 'poster', oidc.ClientSecretBasic(S('poster'))), {})),
    ).toEqual({ status: 401, error: 'invalid_client' })
    // hostile input: both methods at once is a 400, a wrong secret in the right place a 401
    expect(
      (
        await post(
          a,
          '/token',
          { grant_type: 'client_credentials', client_id: 'web', client_secret: S('web') },
          basic('web'),
        )
      ).status,
    ).toBe(400)
    expect(
      (await post(a, '/token', { grant_type: 'client_credentials' }, basic('web', 'wrong-secret-0123456789'))).status,
    ).toBe(401)
  })

  it('PKCE is required for confidential clients too unless require_pkce: false, which only confidential clients may set', async () => {
    const web = await rp(a, 'web')
    const ua = new UserAgent(a.url)
    const noPkce = oidc.buildAuthorizationUrl(web, { redirect_uri: CALLBACK, scope: 'openid' })
    const hop = await ua.follow(await ua.request(noPkce), (u) => u.origin !== issuer.origin)
    expect(hop.url.origin + hop.url.pathname).toBe(CALLBACK)
    expect(hop.url.searchParams.get('error')).toBe('invalid_request')
    expect(hop.url.searchParams.get('error_description')).toMatch(/PKCE/)
    // the exempted client completes the flow without PKCE
    const legacy = await rp(a, 'legacy')
    const { callback } = await authorize(legacy, { pkce: false })
    expect((await oidc.authorizationCodeGrant(legacy, callback)).access_token).toBeTruthy()
    // and the compliance report names it
    const report = await call(
      a,
      'GET',
      '/audit/v1/report?days=1',
      (await oidc.clientCredentialsGrant(await rp(a, 'svc'), { scope: 'audit:read' })).access_token,
    )
    const flagged = (report.body.clients.findings as { client_id: string; issue: string }[])
      .filter((f) => f.issue === 'pkce_not_required')
      .map((f) => f.client_id)
    expect(flagged).toEqual(['legacy'])
    // validation: public clients cannot opt out; the value must be a boolean
    const { problems } = await validateDocument(a.container, {
      clients: [
        {
          client_id: 'bad-spa',
          token_endpoint_auth_method: 'none',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          require_pkce: false,
        },
        {
          client_id: 'bad-type',
          client_secret: S('bad-type'),
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          require_pkce: 'no',
        },
      ],
    })
    expect(problems.map((p) => `${p.path}: ${p.message}`).join('\n')).toMatch(
      /require_pkce: false is only allowed for confidential clients[\s\S]*require_pkce must be true or false/,
    )
  })

  it('a failed code_verifier attempt consumes the code: the right verifier afterwards fails too', async () => {
    const web = await rp(a, 'web')
    const { callback, verifier } = await authorize(web)
    expect(
      await oauthError(oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier() })),
    ).toEqual({ status: 400, error: 'invalid_grant' })
    expect(await oauthError(oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: verifier }))).toEqual({
      status: 400,
      error: 'invalid_grant',
    })
    // a missing verifier burns it as well
    const second = await authorize(web)
    const code = second.callback.searchParams.get('code')!
    expect(
      (await post(a, '/token', { grant_type: 'authorization_code', code, redirect_uri: CALLBACK }, basic('web')))
        .status,
    ).toBe(400)
    expect(
      await oauthError(oidc.authorizationCodeGrant(web, second.callback, { pkceCodeVerifier: second.verifier })),
    ).toEqual({ status: 400, error: 'invalid_grant' })
    // another client presenting the code cannot burn it
    const third = await authorize(web)
    const stolen = await post(
      a,
      '/token',
      {
        grant_type: 'authorization_code',
        code: third.callback.searchParams.get('code')!,
        redirect_uri: CALLBACK,
        code_verifier: third.verifier,
      },
      basic('legacy'),
    )
    expect(stolen.status).toBe(400)
    expect(
      (await oidc.authorizationCodeGrant(web, third.callback, { pkceCodeVerifier: third.verifier })).access_token,
    ).toBeTruthy()
  })

  it('reusing a code after it expired revokes the tokens it gave, like reuse within its lifetime', async () => {
    const web = await rp(a, 'web')
    const { callback, verifier } = await authorize(web)
    const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: verifier })
    expect((await oidc.tokenIntrospection(web, tokens.access_token)).active).toBe(true)
    await new Promise((r) => setTimeout(r, 6000)) // AUTHORIZATION_CODE_TTL is 5 s here
    expect(await oauthError(oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: verifier }))).toEqual({
      status: 400,
      error: 'invalid_grant',
    })
    expect(await oidc.tokenIntrospection(web, tokens.access_token)).toEqual({ active: false })
    expect(await oauthError(oidc.refreshTokenGrant(web, tokens.refresh_token!))).toEqual({
      status: 400,
      error: 'invalid_grant',
    })
    expect((await a.container.audit.list({ action: 'grant.revoked' })).length).toBeGreaterThan(0)
  }, 60_000)

  it('a revoked grant takes its JWT access tokens with it, on every instance: code replay and refresh token replay', async () => {
    const web = await rp(a, 'web')
    const introspect = async (url: string, token: string) =>
      ((await (await post(url, '/token/introspection', { token }, basic('orders-rs'))).json()) as { active: boolean })
        .active
    const first = await authorize(web, { scope: 'openid orders:read offline_access', resource: API })
    const tokens = await oidc.authorizationCodeGrant(
      web,
      first.callback,
      { pkceCodeVerifier: first.verifier },
      { resource: API },
    )
    expect(jose.decodeJwt(tokens.access_token).aud).toBe(API)
    expect(await introspect(a.url, tokens.access_token)).toBe(true)
    // the code again: the grant is revoked, and with it the JWT
    expect(
      await oauthError(
        oidc.authorizationCodeGrant(web, first.callback, { pkceCodeVerifier: first.verifier }, { resource: API }),
      ),
    ).toMatchObject({ error: 'invalid_grant' })
    expect(await introspect(a.url, tokens.access_token)).toBe(false)
    expect(await introspect(bUrl, tokens.access_token)).toBe(false)

    const second = await authorize(web, { scope: 'openid orders:read offline_access', resource: API })
    const t1 = await oidc.authorizationCodeGrant(
      web,
      second.callback,
      { pkceCodeVerifier: second.verifier },
      { resource: API },
    )
    const t2 = await oidc.refreshTokenGrant(web, t1.refresh_token!, { resource: API })
    expect(await introspect(a.url, t2.access_token)).toBe(true)
    // RFC 9700 §4.14.2: the used refresh token again revokes the grant, JWTs included
    expect(await oauthError(oidc.refreshTokenGrant(web, t1.refresh_token!, { resource: API }))).toMatchObject({
      error: 'invalid_grant',
    })
    expect(await introspect(a.url, t2.access_token)).toBe(false)
    expect(await introspect(bUrl, t1.access_token)).toBe(false)
  })

  it('OIDC Core 3.1.2.1: redirect_uri is required even for a client with one registered URI, at /auth and at /token', async () => {
    const ua = new UserAgent(a.url)
    const url = new URL('/auth', a.url)
    url.search = new URLSearchParams({
      client_id: 'web',
      response_type: 'code',
      scope: 'openid',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuwGrEZ6hHE',
      code_challenge_method: 'S256',
    }).toString()
    const res = await ua.request(url)
    expect(res.status).toBe(400) // an error page: there is no redirect_uri to send the error to
    expect(res.headers.get('location')).toBeNull()
    expect(await res.text()).toContain('redirect_uri')
    // token endpoint: the code's redirect_uri must be repeated
    const web = await rp(a, 'web')
    const { callback, verifier } = await authorize(web)
    const noUri = await post(
      a,
      '/token',
      { grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier },
      basic('web'),
    )
    expect(noUri.status).toBe(400)
    expect(await noUri.json()).toMatchObject({
      error: 'invalid_request',
      error_description: expect.stringContaining('redirect_uri'),
    })
  })

  it('the authorization endpoint takes POST as well as GET; a POST continues as a GET so SameSite=Lax session cookies apply', async () => {
    const web = await rp(a, 'web')
    const verifier = oidc.randomPKCECodeVerifier()
    const params = {
      client_id: 'web',
      response_type: 'code',
      redirect_uri: CALLBACK,
      scope: 'openid email',
      state: 'posted',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }
    const ua = new UserAgent(a.url)
    const posted = await ua.request('/auth', { form: params })
    expect(posted.status).toBe(303)
    const to = new URL(posted.headers.get('location')!, a.url)
    expect(to.pathname).toBe('/auth')
    expect(Object.fromEntries(to.searchParams)).toEqual(params)
    const { callback } = await signIn(ua, to, { email: 'ann@example.com', password: PASSWORD })
    expect(callback!.searchParams.get('state')).toBe('posted')
    const tokens = await oidc.authorizationCodeGrant(web, callback!, {
      pkceCodeVerifier: verifier,
      expectedState: 'posted',
    })
    expect(tokens.access_token).toBeTruthy()
    // signed in: a second POST reaches the client without a login page
    const again = await ua.request('/auth', { form: { ...params, prompt: 'none', state: 'again' } })
    const hop = await ua.follow(again, (u) => u.origin !== issuer.origin)
    expect(hop.url.searchParams.get('state')).toBe('again')
    expect(hop.url.searchParams.get('code')).toBeTruthy()
    // hostile input: duplicated parameters are refused as on GET, never a 500
    const twice = await fetch(`${a.url}/auth`, {
      method: 'POST',
      redirect: 'manual',
      body: `${new URLSearchParams(params)}&scope=openid`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    const shown = await fetch(new URL(twice.headers.get('location')!, a.url), { redirect: 'manual' })
    const error = new URL(shown.headers.get('location')!)
    expect(error.origin + error.pathname).toBe(CALLBACK)
    expect(error.searchParams.get('error')).toBe('invalid_request')
    // an oversized form is refused, never a 500 (and never turned into a huge redirect)
    const huge = await fetch(`${a.url}/auth`, {
      method: 'POST',
      redirect: 'manual',
      body: `client_id=web&state=${'x'.repeat(60 * 1024)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(huge.status).toBeGreaterThanOrEqual(400)
    expect(huge.status).toBeLessThan(500)
    expect(huge.headers.get('location')).toBeNull()
  })

  it('CORS: only registered web origins, only on token (public clients), userinfo and revocation; discovery and JWKS open; introspection never', async () => {
    const preflight = (path: string, origin: string) =>
      fetch(`${a.url}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      })
    const acao = (res: Response) => res.headers.get('access-control-allow-origin')
    // preflights
    expect(acao(await preflight('/token', APP_ORIGIN))).toBe(APP_ORIGIN) // spa's redirect URI origin
    expect(acao(await preflight('/token', EVIL_ORIGIN))).toBeNull()
    expect(acao(await preflight('/token/revocation', 'https://portal.example.com'))).toBe('https://portal.example.com') // web's web_origins
    expect(acao(await preflight('/me', APP_ORIGIN))).toBe(APP_ORIGIN)
    for (const path of ['/token/introspection', '/request', '/device/auth'])
      expect(acao(await preflight(path, APP_ORIGIN)), path).toBeNull()
    // discovery and JWKS are public documents: any origin may read them
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      expect(acao(await fetch(`${a.url}${path}`, { headers: { origin: EVIL_ORIGIN } })), path).toBe(EVIL_ORIGIN)
    }

    // token endpoint: the SPA from its origin, not from another; a confidential client never
    const spa = await rp(a, 'spa')
    const { callback, verifier } = await authorize(spa)
    const code = callback.searchParams.get('code')!
    const fromEvil = await post(
      a,
      '/token',
      { grant_type: 'authorization_code', client_id: 'spa', code, redirect_uri: CALLBACK, code_verifier: verifier },
      { origin: EVIL_ORIGIN },
    )
    expect(fromEvil.status).toBe(400)
    expect(acao(fromEvil)).toBeNull()
    const spa2 = await authorize(spa)
    const fromApp = await post(
      a,
      '/token',
      {
        grant_type: 'authorization_code',
        client_id: 'spa',
        code: spa2.callback.searchParams.get('code')!,
        redirect_uri: CALLBACK,
        code_verifier: spa2.verifier,
      },
      { origin: APP_ORIGIN },
    )
    expect(fromApp.status).toBe(200)
    expect(acao(fromApp)).toBe(APP_ORIGIN)
    const tokens = (await fromApp.json()) as { access_token: string; refresh_token: string }
    const confidential = await post(
      a,
      '/token',
      { grant_type: 'client_credentials' },
      { ...basic('web'), origin: 'https://portal.example.com' },
    )
    expect(acao(confidential)).toBeNull()
    expect(confidential.status).toBe(400)

    // userinfo: the token's client's origins
    const me = (origin: string) =>
      fetch(`${a.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}`, origin } })
    const okMe = await me(APP_ORIGIN)
    expect(okMe.status).toBe(200)
    expect(acao(okMe)).toBe(APP_ORIGIN)
    expect(acao(await me(EVIL_ORIGIN))).toBeNull()

    // introspection: never, even from a registered origin with valid credentials
    const intro = await post(
      a,
      '/token/introspection',
      { token: tokens.access_token },
      { ...basic('web'), origin: 'https://portal.example.com' },
    )
    expect(acao(intro)).toBeNull()

    // revocation from the SPA's origin
    const rev = await post(
      a,
      '/token/revocation',
      { token: tokens.refresh_token, client_id: 'spa' },
      { origin: APP_ORIGIN },
    )
    expect(rev.status).toBe(200)
    expect(acao(rev)).toBe(APP_ORIGIN)

    // validation of web_origins
    const { problems } = await validateDocument(a.container, {
      clients: [
        {
          client_id: 'bad-origins',
          client_secret: S('bad-origins'),
          grant_types: ['client_credentials'],
          response_types: [],
          web_origins: ['https://app.example.com/path'],
        },
      ],
    })
    expect(problems.map((p) => p.message).join('\n')).toContain('is not an origin')
  })
})

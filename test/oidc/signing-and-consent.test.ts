import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { exportDocument } from '../../src/declarative/export.ts'
import { buildReport } from '../../src/audit/report.ts'
import { reportDeps } from '../../src/audit/report-deps.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { field, formAction, signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * Issue 16 §1: JWT access tokens are ES256 unless a resource asks for EdDSA or RS256 (all
 * three keys are published at /jwks); ID tokens stay RS256 (OIDC Core §3.1.3.7) unless the
 * client registers id_token_signed_response_alg. A confidential first-party client with
 * `skip_consent: true` goes from the login straight to its callback, and its tokens carry only
 * the resource scopes the user holds.
 */

const DEFAULT = 'https://default.example.com'
const RSA = 'https://rsa.example.com'
const ED = 'https://ed.example.com'
const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'first-party-secret-0123456789'

const scopes = (p: string) => [{ name: `${p}:read`, roles: ['clerk'] }, `${p}:write`]
const resources = [
  { indicator: DEFAULT, scopes: scopes('def') },
  { indicator: RSA, scopes: scopes('rsa'), access_token_signing_alg: 'RS256' },
  { indicator: ED, scopes: scopes('ed'), access_token_signing_alg: 'EdDSA' },
]
const allScopes = 'def:read def:write rsa:read rsa:write ed:read ed:write'
const codeClient = (id: string, extra: Record<string, unknown> = {}) => ({
  client_id: id,
  client_secret: SECRET,
  redirect_uris: [CALLBACK],
  grant_types: ['authorization_code', 'client_credentials'],
  response_types: ['code'],
  scope: `openid email ${allScopes}`,
  ...extra,
})
const clients = [
  codeClient('first-party', { skip_consent: true, id_token_signed_response_alg: 'ES256' }),
  codeClient('third-party'),
]

describeOnBackends(
  'signing-and-consent.test.ts',
  'signing algorithms and skippable consent',
  ({ kind, redisUrl }) => {
    let s: TestServer
    let jwks: ReturnType<typeof jose.createRemoteJWKSet>

    beforeAll(async () => {
      s = await startTestServer({ kind, redisUrl })
      const { doc, problems } = await validateDocument(s.container, {
        resources,
        clients,
        users: [{ email: 'clara@example.com', password: PASSWORD, roles: ['clerk'] }],
      })
      expect(problems).toEqual([])
      await applyDocument(s.container, doc!)
      await s.container.refresh()
      jwks = jose.createRemoteJWKSet(new URL(`${s.url}/jwks`))
    })
    afterAll(async () => {
      await s?.close()
    })

    const rp = (id: string) =>
      oidc.discovery(new URL(s.url), id, SECRET, oidc.ClientSecretBasic(SECRET), {
        execute: [oidc.allowInsecureRequests],
      })
    const verified = async (token: string, audience: string) => {
      const { protectedHeader, payload } = await jose.jwtVerify(token, jwks, { issuer: s.url, audience })
      return { alg: protectedHeader.alg, payload }
    }

    it('client credentials: ES256 by default, RS256 and EdDSA when the resource says so, all verifying against /jwks', async () => {
      const config = await rp('third-party')
      const algOf = async (resource: string, scope: string) =>
        verified((await oidc.clientCredentialsGrant(config, { resource, scope })).access_token, resource)
      expect((await algOf(DEFAULT, 'def:read')).alg).toBe('ES256')
      expect((await algOf(RSA, 'rsa:read')).alg).toBe('RS256')
      expect((await algOf(ED, 'ed:read')).alg).toBe('EdDSA')
      const published = (await call(s, 'GET', '/jwks')).body as { keys: { kty: string }[] }
      expect(new Set(published.keys.map((k) => k.kty))).toEqual(new Set(['RSA', 'EC', 'OKP']))
      // The export round-trips the setting (the default written out, so the file says what happens).
      const doc = await exportDocument(s.container)
      expect(doc.resources.map((r) => [r.indicator, r.access_token_signing_alg])).toEqual([
        [DEFAULT, 'ES256'],
        [ED, 'EdDSA'],
        [RSA, 'RS256'],
      ])
    })

    it('our own API takes ES256 tokens and its tokens are ES256', async () => {
      await registerServiceClients(s, [{ id: 'svc', scope: 'admin' }])
      const token = await apiToken(s, 'svc', 'admin')
      expect(jose.decodeProtectedHeader(token).alg).toBe('ES256')
      expect((await call(s, 'GET', '/authz/v1/stores', token)).status).toBe(200)
      // A token signed with a key we do not publish is refused.
      const { privateKey } = await jose.generateKeyPair('ES256')
      const forged = await new jose.SignJWT({ client_id: 'svc', scope: 'admin' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jose.decodeProtectedHeader(token).kid! })
        .setIssuer(s.url)
        .setAudience(String(jose.decodeJwt(token).aud))
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
      expect((await call(s, 'GET', '/authz/v1/stores', forged)).status).toBe(401)
    })

    /** Login only (no consent submitted): where the browser ends up after the password form. */
    async function afterLogin(clientId: string, scope: string, resource: string, extra: Record<string, string> = {}) {
      const config = await rp(clientId)
      const verifier = oidc.randomPKCECodeVerifier()
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: CALLBACK,
        scope,
        resource,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...extra,
      })
      const ua = new UserAgent(s.url)
      const away = (u: URL) => u.origin !== s.url
      const login = await ua.follow(await ua.request(url), away)
      const html = await login.res!.text()
      expect(html).toContain('name="password"')
      const posted = await ua.request(formAction(html, '/login'), {
        form: { csrf: field(html, 'csrf'), email: 'clara@example.com', password: PASSWORD },
      })
      const hop = await ua.follow(posted, away)
      return { config, verifier, ua, url, hop, page: hop.res ? await hop.res.text() : undefined }
    }

    it('skip_consent: the login goes straight to the callback; tokens carry only held scopes; ID token ES256 as registered', async () => {
      const { config, verifier, hop, page } = await afterLogin(
        'first-party',
        'openid email def:read def:write',
        DEFAULT,
      )
      expect(page).toBeUndefined() // no consent page
      expect(hop.url.origin + hop.url.pathname).toBe(CALLBACK)
      const tokens = await oidc.authorizationCodeGrant(config, hop.url, { pkceCodeVerifier: verifier })
      const access = await verified(tokens.access_token, DEFAULT)
      expect(access.alg).toBe('ES256')
      // def:write names no role: clara does not hold it, so skipping consent does not give it.
      expect(String(access.payload.scope).split(' ')).toEqual(['def:read'])
      expect(jose.decodeProtectedHeader(tokens.id_token!).alg).toBe('ES256')
      expect(tokens.claims()).toMatchObject({ email: 'clara@example.com' })
      // The audit trail says consent was given without a page.
      await expect
        .poll(
          async () =>
            (await s.container.queries.audit.list({ action: 'consent.granted' })).some(
              (r) => r.target === 'first-party' && r.details.skipped === true,
            ),
          { timeout: 15_000 },
        )
        .toBe(true)
    })

    it('skip_consent yields to prompt=consent from the client itself', async () => {
      const { page } = await afterLogin('first-party', 'openid def:read', DEFAULT, { prompt: 'consent' })
      expect(page).toContain('/confirm')
    })

    it('without skip_consent the consent page appears; ID tokens stay RS256 (OIDC Core default)', async () => {
      const { config, verifier, ua, url, page } = await afterLogin('third-party', 'openid def:read', RSA)
      expect(page).toContain('/confirm')
      // Finish through the consent form (the helper submits it).
      const { callback } = await signIn(ua, url, { email: 'clara@example.com', password: PASSWORD })
      const tokens = await oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier })
      expect(jose.decodeProtectedHeader(tokens.id_token!).alg).toBe('RS256')
      expect((await verified(tokens.access_token, RSA)).alg).toBe('RS256')
    })

    it('the compliance report lists clients that skip consent', async () => {
      const report = await buildReport(reportDeps(s.container))
      expect((report.clients as { skip_consent: string[] }).skip_consent).toEqual(['first-party'])
      expect(report.clients.findings).toEqual(
        expect.arrayContaining([expect.objectContaining({ client_id: 'first-party', issue: 'skips_consent' })]),
      )
    })

    it('bad values are import errors with their path: unknown alg, non-boolean skip_consent, public client skipping consent', async () => {
      const problemsOf = async (value: unknown) => (await validateDocument(s.container, value)).problems
      expect(
        await problemsOf({ resources: [{ indicator: 'https://x.example.com', access_token_signing_alg: 'HS256' }] }),
      ).toEqual([expect.objectContaining({ path: 'resources.0.access_token_signing_alg' })])
      expect(
        await problemsOf({ resources: [{ indicator: 'https://x.example.com', access_token_signing_alg: 'none' }] }),
      ).toEqual([expect.objectContaining({ path: 'resources.0.access_token_signing_alg' })])
      const notBool = await problemsOf({ clients: [codeClient('c1', { skip_consent: 'yes' })] })
      expect(notBool).toEqual([
        expect.objectContaining({ path: 'clients.0', message: expect.stringContaining('skip_consent') }),
      ])
      const pub = await problemsOf({
        clients: [
          {
            ...codeClient('c2', { skip_consent: true, token_endpoint_auth_method: 'none' }),
            client_secret: undefined,
            grant_types: ['authorization_code'],
          },
        ],
      })
      expect(pub).toEqual([
        expect.objectContaining({ path: 'clients.0', message: expect.stringContaining('confidential') }),
      ])
      expect(await problemsOf({ clients: [codeClient('c3', { id_token_signed_response_alg: 'HS256' })] })).not.toEqual(
        [],
      )
    })
  },
  ['SQLite', 'PostgreSQL + Redis'],
)

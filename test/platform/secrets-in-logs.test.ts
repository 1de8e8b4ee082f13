import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { issue, signedCall } from '../helpers/apikeys.ts'
import { signRequest } from '../../src/apikeys/client.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { CALLBACK, completeToCallback, startAuth, submit, totpNow } from '../helpers/strong-login.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'

/**
 * No secret in logs, URLs, errors or audit details (issue 13 §4): one server logging at debug
 * runs flows that use every kind of secret — passwords (right and wrong), client secrets,
 * authorization codes and PKCE verifiers, access/refresh/ID tokens through refresh,
 * introspection and revocation, a TOTP secret and sign-in, API keys and HMAC signing secrets
 * through issue, signed use, verification and rotation, a password reset token — then searches
 * every log line, every audit record, every error response body and every requested URL for
 * each of them.
 */

const PASSWORD = 'quiet river lamp orbit'
const WRONG_PASSWORD = 'quiet river lamp orbiT'
const NEW_PASSWORD = 'a brand new and long passphrase'
const TOTP_SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'
const WEB_SECRET = 'web-secret-0123456789abcdef'
const WRONG_CLIENT_SECRET = 'web-secret-not-the-right-one-42'

interface Seen {
  url: string
  status: number
  body?: string
}

describeOnBackends(
  'secrets-in-logs.test.ts',
  'no secret in logs, URLs, errors or audit details',
  ({ kind, redisUrl }) => {
    let server: TestServer
    let mx: TestSmtp
    let web: oidc.Configuration
    const lines: string[] = []
    const seen: Seen[] = []
    /** label → value of every secret the flows used */
    const secrets = new Map<string, string>([
      ['password', PASSWORD],
      ['wrong password', WRONG_PASSWORD],
      ['new password', NEW_PASSWORD],
      ['TOTP secret', TOTP_SECRET],
      ['client secret', WEB_SECRET],
      ['wrong client secret', WRONG_CLIENT_SECRET],
      ['service client secret', 'svc-secret-0123456789abcdef'],
      ['resource server client secret', 'rs-secret-0123456789abcdef'],
      ['key owner client secret', 'own-secret-0123456789abcdef'],
    ])
    const realFetch = globalThis.fetch

    beforeAll(async () => {
      // Every request the test (and openid-client) makes, with the body of every error answer.
      globalThis.fetch = async (input, init) => {
        const res = await realFetch(input, init)
        const url = input instanceof Request ? input.url : String(input)
        seen.push({ url, status: res.status, ...(res.status >= 400 ? { body: await res.clone().text() } : {}) })
        return res
      }
      mx = await startSmtp()
      server = await startTestServer({
        kind,
        redisUrl,
        logSink: lines,
        env: {
          LOG_LEVEL: 'debug',
          SMTP_URL: mx.url,
          SMTP_REQUIRE_STARTTLS: 'false',
          MAIL_FROM: 'id@example.com',
          LOGIN_FAILURE_DELAY_MS: '10',
        },
      })
      const { doc, problems } = await validateDocument(server.container, {
        clients: [
          {
            client_id: 'web',
            client_secret: WEB_SECRET,
            redirect_uris: [CALLBACK],
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
            scope: 'openid email offline_access',
          },
        ],
        users: [
          { email: 'pat@example.com', password: PASSWORD },
          { email: 'tia@example.com', password: PASSWORD, totp_secret: TOTP_SECRET },
        ],
      })
      expect(problems).toEqual([])
      await applyDocument(server.container, doc!)
      await registerServiceClients(server, [
        { id: 'svc', scope: 'apikeys:admin admin' },
        { id: 'own', scope: 'apikeys:manage' },
        { id: 'rs', scope: 'apikeys:verify' },
      ])
      web = await oidc.discovery(new URL(server.url), 'web', WEB_SECRET, oidc.ClientSecretBasic(WEB_SECRET), {
        execute: [oidc.allowInsecureRequests],
      })
    })
    afterAll(async () => {
      globalThis.fetch = realFetch
      await server?.close()
      await mx?.close()
    })

    it('authorization code + PKCE with a password, refresh, introspection, revocation', async () => {
      const ua = new UserAgent(server.url)
      // A wrong password first, then the right one.
      const start = await startAuth(ua, web, { scope: 'openid email offline_access', prompt: 'consent' })
      secrets.set('PKCE code verifier', start.verifier)
      const wrong = await submit(ua, start.html, '/login', { email: 'pat@example.com', password: WRONG_PASSWORD })
      expect(wrong.status).toBe(401)
      const posted = await submit(ua, await wrong.text(), '/login', { email: 'pat@example.com', password: PASSWORD })
      const callback = await completeToCallback(ua, server.url, posted)
      secrets.set('authorization code', callback.searchParams.get('code')!)
      const tokens = await oidc.authorizationCodeGrant(web, callback, {
        pkceCodeVerifier: start.verifier,
        idTokenExpected: true,
      })
      secrets
        .set('access token', tokens.access_token)
        .set('refresh token', tokens.refresh_token!)
        .set('ID token', tokens.id_token!)

      const refreshed = await oidc.refreshTokenGrant(web, tokens.refresh_token!)
      secrets
        .set('refreshed access token', refreshed.access_token)
        .set('rotated refresh token', refreshed.refresh_token ?? tokens.refresh_token!)
      expect((await oidc.tokenIntrospection(web, refreshed.access_token)).active).toBe(true)
      await oidc.tokenRevocation(web, refreshed.access_token)
      expect((await oidc.tokenIntrospection(web, refreshed.access_token)).active).toBe(false)

      // Wrong client secret at the token endpoint (RFC 6749 §5.2 invalid_client).
      const bad = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`web:${WRONG_CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: secrets.get('rotated refresh token')!,
        }),
      })
      expect(bad.status).toBe(401)
      // The code again: refused (invalid_grant; RFC 6749 §4.1.2 also revokes what it gave).
      await expect(
        oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: start.verifier }),
      ).rejects.toMatchObject({ error: 'invalid_grant' })
    })

    it('TOTP sign-in: a wrong code, then the right one', async () => {
      const ua = new UserAgent(server.url)
      const start = await startAuth(ua, web)
      const posted = await submit(ua, start.html, '/login', { email: 'tia@example.com', password: PASSWORD })
      const page = await (await ua.request(posted.headers.get('location')!)).text()
      const code = await totpNow(TOTP_SECRET)
      const wrong = await submit(ua, page, '/mfa', { method: 'totp', code: code === '000000' ? '111111' : '000000' })
      expect(wrong.status).toBe(401)
      const ok = await submit(ua, await wrong.text(), '/mfa', { method: 'totp', code })
      const callback = await completeToCallback(ua, server.url, ok)
      secrets.set('TOTP sign-in code', callback.searchParams.get('code')!)
      const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: start.verifier })
      secrets.set('TOTP access token', tokens.access_token)
    })

    it('client credentials and API keys with an HMAC signing secret: issue, signed use, verify, rotate, wrong key', async () => {
      const admin = await apiToken(server, 'svc', 'apikeys:admin admin')
      const rs = await apiToken(server, 'rs', 'apikeys:verify')
      secrets.set('client credentials token', admin).set('resource server token', rs)
      const k = await issue(server, admin, {
        owner: 'client:own',
        name: 'signed',
        scopes: ['apikeys:manage'],
        level: 'HIGH',
        allowed_ips: ['127.0.0.1', '::1'],
        signing: { alg: 'hmac-sha256' },
      })
      secrets.set('API key', k.key).set('signing secret', k.signing_secret!)
      const signing = { alg: 'hmac-sha256' as const, secret: k.signing_secret! }
      expect((await signedCall(server, 'GET', `/apikeys/v1/keys/${k.id}`, k.key, { signing })).status).toBe(200)
      const target = 'https://api.example.com/orders?id=7'
      const headers = signRequest({ method: 'POST', url: target, body: '{"qty":1}', keyId: k.id, signing })
      const verified = await call(server, 'POST', '/apikeys/v1/verify', rs, {
        token: k.key,
        ip: '127.0.0.1',
        request: { method: 'POST', target_uri: target, headers },
      })
      expect(verified.body.active).toBe(true)
      // A wrong signature and a wrong key (the real one with its last character changed).
      expect(
        (
          await signedCall(server, 'GET', `/apikeys/v1/keys/${k.id}`, k.key, {
            signing: { ...signing, secret: `${signing.secret}x` },
          })
        ).status,
      ).toBe(401)
      const wrongKey = k.key.slice(0, -1) + (k.key.endsWith('A') ? 'B' : 'A')
      secrets.set('wrong API key', wrongKey)
      expect((await call(server, 'GET', '/apikeys/v1/keys', wrongKey)).status).toBe(401)
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: wrongKey })).body.active).toBe(false)

      const rotated = await call(server, 'POST', `/apikeys/v1/keys/${k.id}/rotate`, admin, {})
      expect(rotated.status).toBe(201)
      secrets.set('rotated API key', rotated.body.key).set('rotated signing secret', rotated.body.signing_secret)
      expect(
        (
          await signedCall(server, 'GET', '/apikeys/v1/keys', rotated.body.key, {
            signing: { alg: 'hmac-sha256', secret: rotated.body.signing_secret },
          })
        ).status,
      ).toBe(200)
    })

    it('password reset through the mailed link, and a wrong reset token', async () => {
      const forgot = await new UserAgent(server.url).request('/password/forgot', { form: { email: 'pat@example.com' } })
      expect(forgot.status).toBe(200)
      const link = linkIn(await mx.waitFor((m) => m.text?.includes('/password/reset') === true), '/password/reset')
      const token = link.searchParams.get('token')!
      secrets.set('reset token', token)
      const ua = new UserAgent(server.url)
      const html = await (await ua.request(link)).text()
      const done = await ua.request(formAction(html, '/password/reset'), {
        form: { token: field(html, 'token'), new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD },
      })
      expect(done.status).toBe(200)
      const wrong = await new UserAgent(server.url).request(formAction(html, '/password/reset'), {
        form: { token: `${token.slice(0, -2)}zz`, new_password: NEW_PASSWORD, confirm_password: NEW_PASSWORD },
      })
      expect(wrong.status).toBeGreaterThanOrEqual(400)
    })

    it('no secret appears in any log line, audit record, error response body or requested URL', async () => {
      await server.container.audit.flush()
      const audit = await server.container.db.auditEvent.findMany({ orderBy: { seq: 'asc' } })
      expect(audit.length).toBeGreaterThan(10)
      expect(lines.length).toBeGreaterThan(10)
      expect(server.config.LOG_LEVEL).toBe('debug')
      const places: { where: string; text: string }[] = [
        ...lines.map((l) => ({ where: 'log line', text: l })),
        ...audit.map((a) => ({ where: `audit record ${a.seq} (${a.action})`, text: JSON.stringify(a) })),
        ...seen
          .filter((s) => s.body !== undefined)
          .map((s) => ({ where: `error body of ${s.status} from ${new URL(s.url).pathname}`, text: s.body! })),
        // The reset token travels in the mailed link by design; nothing else may be in a URL.
        ...seen.map((s) => ({ where: 'requested URL', text: s.url.replace(/([?&]token=)[^&]*/, '$1') })),
      ]
      // The search looks where the flows left traces: their requests were logged and audited.
      expect(places.some((p) => p.where === 'log line' && p.text.includes('"path":"/token"'))).toBe(true)
      expect(places.some((p) => p.where.startsWith('audit record') && p.text.includes('pat@example.com'))).toBe(true)
      expect(places.some((p) => p.where.startsWith('error body') && p.text.includes('invalid_client'))).toBe(true)
      const hits: string[] = []
      for (const [label, value] of secrets) {
        expect(value, label).toBeTruthy()
        for (const p of places) {
          if (p.text.includes(value)) hits.push(`${label} in ${p.where}: ${p.text.slice(0, 600)}`)
        }
      }
      expect(hits).toEqual([])
    })
  },
)

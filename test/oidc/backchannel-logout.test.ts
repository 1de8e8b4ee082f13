import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, formAction, signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * OpenID Connect Back-Channel Logout 1.0 with real parties: openid-client signs in, and a
 * receiver written here (the RP's back-channel endpoint) validates every logout token against
 * our JWKS with jose, as §2.6 asks. Logout tokens must arrive for RP-initiated logout and for
 * sessions ended elsewhere (notifySignOut, disabling the user); a receiver that fails is
 * audited and does not keep the session alive.
 */
const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'quiet river lamp orbit'
const EMAIL = 'bea@example.com'

interface Received {
  token: string
  claims?: jose.JWTPayload
  header?: jose.ProtectedHeaderParameters
  problem?: string
}

let server: TestServer
let receiver: http.Server
let receiverUrl: string
const received: Received[] = []
let jwks: ReturnType<typeof jose.createRemoteJWKSet>

/** The RP's back-channel logout endpoint: §2.6 validation, 200 when valid, 400 otherwise. */
function startReceiver() {
  return new Promise<void>((resolve) => {
    receiver = http
      .createServer((req, res) => {
        let body = ''
        req.on('data', (c) => (body += c))
        req.on('end', async () => {
          if (req.url === '/broken') {
            res.writeHead(500).end()
            return
          }
          const token = new URLSearchParams(body).get('logout_token') ?? ''
          try {
            const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
              issuer: server.url,
              audience: 'rp',
              typ: 'logout+jwt',
              maxTokenAge: '2m',
            })
            if (
              !(payload.events as Record<string, unknown> | undefined)?.[
                'http://schemas.openid.net/event/backchannel-logout'
              ]
            )
              throw new Error('no back-channel logout event')
            if ('nonce' in payload) throw new Error('a logout token must not carry a nonce')
            if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid')
            if (!payload.jti) throw new Error('no jti')
            received.push({ token, claims: payload, header: protectedHeader })
            res.writeHead(200, { 'cache-control': 'no-store' }).end()
          } catch (err) {
            received.push({ token, problem: (err as Error).message })
            res.writeHead(400).end()
          }
        })
      })
      .listen(0, '127.0.0.1', () => {
        receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`
        resolve()
      })
  })
}

async function until(cond: () => boolean, ms = 5000) {
  const started = Date.now()
  while (!cond() && Date.now() - started < ms) await new Promise((r) => setTimeout(r, 20))
  return cond()
}

describeOnBackends('backchannel-logout.test.ts', 'Back-channel logout', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    // the receiver listens on 127.0.0.1, which oidc-provider's SSRF protection refuses by default
    server = await startTestServer({
      kind,
      redisUrl,
      env: {
        OUTBOUND_PRIVATE_ADDRESSES: 'true',
        PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42',
        MANAGEMENT_ALLOWED_IPS: '127.0.0.0/8, ::1/128',
      },
    })
    jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
    await startReceiver()
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'rp',
          client_secret: 'rp-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
          skip_consent: true,
          backchannel_logout_uri: `${receiverUrl}/logout`,
          backchannel_logout_session_required: true,
        },
        {
          client_id: 'rp-broken',
          client_secret: 'rp-broken-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
          skip_consent: true,
          backchannel_logout_uri: `${receiverUrl}/broken`,
        },
        {
          client_id: 'rp-quiet',
          client_secret: 'rp-quiet-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
          skip_consent: true,
        },
      ],
      users: [{ email: EMAIL, password: PASSWORD, name: 'Bea' }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    receiver?.close()
    await server?.close()
  })

  const discover = (id: string) =>
    oidc.discovery(
      new URL(server.url),
      id,
      `${id}-secret-0123456789abcdef`,
      oidc.ClientSecretBasic(`${id}-secret-0123456789abcdef`),
      { execute: [oidc.allowInsecureRequests] },
    )

  /** Signs in to `clients` in one browser (single sign-on after the first); the rp's ID token. */
  async function signInTo(clients: string[]) {
    const ua = new UserAgent(server.url)
    let idToken: string | undefined
    let config: oidc.Configuration | undefined
    for (const id of clients) {
      const c = await discover(id)
      const verifier = oidc.randomPKCECodeVerifier()
      const url = oidc.buildAuthorizationUrl(c, {
        redirect_uri: CALLBACK,
        scope: 'openid email',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      const { callback } = await signIn(ua, url, { email: EMAIL, password: PASSWORD })
      const tokens = await oidc.authorizationCodeGrant(c, callback!, { pkceCodeVerifier: verifier })
      if (id === 'rp') {
        idToken = tokens.id_token
        config = c
      }
    }
    return { ua, idToken: idToken!, config: config! }
  }

  describe('OpenID Connect Back-Channel Logout 1.0', () => {
    it('is advertised in discovery', async () => {
      const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >
      expect(meta.backchannel_logout_supported).toBe(true)
      expect(meta.backchannel_logout_session_supported).toBe(true)
    })

    it('RP-initiated logout sends each participating client a logout token that validates against our JWKS', async () => {
      received.length = 0
      const { ua, idToken, config } = await signInTo(['rp', 'rp-broken', 'rp-quiet'])
      const sid = jose.decodeJwt(idToken).sid
      expect(sid).toBeTruthy()
      const page = await ua.request(oidc.buildEndSessionUrl(config, { id_token_hint: idToken }))
      const html = await page.text()
      await ua.request(formAction(html, '/session/end'), { form: { xsrf: field(html, 'xsrf'), logout: 'yes' } })
      expect(await until(() => received.length >= 1)).toBe(true)
      const [got] = received
      expect(got!.problem).toBeUndefined()
      const user = await server.container.users.findByEmail(EMAIL)
      expect(got!.claims).toMatchObject({ sub: user!.id, sid, aud: 'rp', iss: server.url })
      // the broken receiver's failure is audited; the quiet client has no back-channel URI
      const audit = await server.container.audit.list({ action: 'logout.backchannel' })
      expect(audit.some((e) => e.outcome === 'success' && JSON.stringify(e.details).includes('"rp"'))).toBe(true)
      const failures = (await server.container.audit.list({ action: 'logout.backchannel' })).filter(
        (e) => e.outcome === 'failure',
      )
      expect(failures.some((e) => JSON.stringify(e.details).includes('rp-broken'))).toBe(true)
    })

    it('notifySignOut(user) notifies the clients of every session and ends them, even when a receiver fails', async () => {
      received.length = 0
      const first = await signInTo(['rp', 'rp-broken'])
      const second = await signInTo(['rp'])
      const user = await server.container.users.findByEmail(EMAIL)
      const ended = await server.container.login.sessions.notifySignOut(user!.id)
      expect(ended).toBe(2)
      expect(received.filter((r) => !r.problem)).toHaveLength(2)
      const sids = received.map((r) => r.claims?.sid).sort()
      expect(sids).toEqual([jose.decodeJwt(first.idToken).sid, jose.decodeJwt(second.idToken).sid].sort())
      // the sessions are over: the next authorization shows the login form again
      const c = await discover('rp')
      const again = oidc.buildAuthorizationUrl(c, {
        redirect_uri: CALLBACK,
        scope: 'openid',
        code_challenge: 'x'.repeat(43),
        code_challenge_method: 'S256',
      })
      const hop = await first.ua.follow(await first.ua.request(again), (u) => u.origin !== new URL(server.url).origin)
      expect(await hop.res!.text()).toContain('name="password"')
    })

    it('an administrator ending a session over the admin API notifies', async () => {
      await ensureAdmin(server.container)
      await ensureSystemPolicyStore(server.container)
      await registerServiceClients(server, [{ id: 'root', scope: 'admin' }])
      await adminServices(server.container).authority.grant({ kind: 'cli' }, { type: 'client', id: 'root' }, 'admin')
      const admin = await apiToken(server, 'root', 'admin')
      received.length = 0
      const { idToken } = await signInTo(['rp'])
      const user = await server.container.users.findByEmail(EMAIL)
      const sessions = await call(server, 'GET', `/admin/v1/users/${user!.id}/sessions`, admin)
      expect(sessions.status).toBe(200)
      for (const s of sessions.body.items as { id: string }[]) {
        expect(
          (await call(server, 'DELETE', `/admin/v1/users/${user!.id}/sessions/${s.id}`, admin)).status,
        ).toBeLessThan(300)
      }
      expect(received.filter((r) => !r.problem).map((r) => r.claims?.sid)).toEqual([jose.decodeJwt(idToken).sid])
    })

    it('disabling the user notifies too', async () => {
      received.length = 0
      await signInTo(['rp'])
      await server.container.accounts.disable(EMAIL, 'test')
      expect(received.filter((r) => !r.problem)).toHaveLength(1)
      await server.container.accounts.enable(EMAIL, 'test')
    })

    it('containing the user over the admin API notifies every receiver and says how many accepted', async () => {
      await ensureAdmin(server.container)
      await ensureSystemPolicyStore(server.container)
      await registerServiceClients(server, [{ id: 'root', scope: 'admin' }])
      await adminServices(server.container).authority.grant({ kind: 'cli' }, { type: 'client', id: 'root' }, 'admin')
      const admin = await apiToken(server, 'root', 'admin')
      received.length = 0
      const { idToken } = await signInTo(['rp', 'rp-broken'])
      const user = await server.container.users.findByEmail(EMAIL)
      const r = await call(server, 'POST', `/admin/v1/users/${user!.id}/contain`, admin, {
        reason: 'suspected phishing',
      })
      expect(r.status).toBe(200)
      // rp accepted the logout token; rp-broken's failure is not counted
      expect(r.body).toMatchObject({ sessionsEnded: 1, receiversNotified: 1, disabled: true })
      expect(received.filter((x) => !x.problem).map((x) => x.claims?.sid)).toEqual([jose.decodeJwt(idToken).sid])
      await server.container.accounts.enable(EMAIL, 'test')
    })

    it("a token not signed by us fails the receiver's validation (the receiver is real)", async () => {
      const { privateKey } = await jose.generateKeyPair('ES256')
      const forged = await new jose.SignJWT({
        events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
        sub: 'x',
        jti: 'j',
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'logout+jwt' })
        .setIssuer(server.url)
        .setAudience('rp')
        .setIssuedAt()
        .sign(privateKey)
      const res = await fetch(`${receiverUrl}/logout`, {
        method: 'POST',
        body: new URLSearchParams({ logout_token: forged }),
      })
      expect(res.status).toBe(400)
    })

    it('the import refuses a back-channel URI that is not a URL', async () => {
      const { problems } = await validateDocument(server.container, {
        clients: [
          {
            client_id: 'bad-rp',
            client_secret: 'bad-rp-secret-0123456789abcdef',
            redirect_uris: [CALLBACK],
            backchannel_logout_uri: 'not a url',
          },
        ],
      })
      expect(JSON.stringify(problems)).toMatch(/backchannel_logout_uri/)
    })
  })
})

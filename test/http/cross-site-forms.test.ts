import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { CALLBACK, startAuth } from '../helpers/strong-login.ts'

/**
 * Forms on our pages refuse posts from other sites (issue 10 §2), even with a valid CSRF token:
 * the sign-in and consent pages (/interaction), the account pages (/account), and the forms
 * oidc-provider renders for us (device code entry at /device, sign-out confirmation). Requests
 * that carry neither Origin nor Sec-Fetch-Site (old clients) still pass on the CSRF token.
 */
const PASSWORD = 'quiet river lamp orbit'
const HOSTILE: [string, Record<string, string>][] = [
  ['another origin', { origin: 'https://evil.example' }],
  ['an opaque origin', { origin: 'null' }],
  ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }],
  ['Sec-Fetch-Site same-site without our origin', { 'sec-fetch-site': 'same-site' }],
  [
    'a valid-looking origin with cross-site fetch metadata',
    { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
  ],
]

describeOnBackends(import.meta.filename, 'cross-site form posts', (backend) => {
  let server: TestServer
  let config: oidc.Configuration
  let ours: Record<string, string>

  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl })
    ours = { origin: server.url, 'sec-fetch-site': 'same-origin' }
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'web',
          client_secret: 'web-secret-0123456789abcdef',
          client_name: 'Web App',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
          response_types: ['code'],
          scope: 'openid email',
        },
      ],
      users: [{ email: 'ann@example.com', password: PASSWORD, name: 'Ann' }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    config = await oidc.discovery(
      new URL(server.url),
      'web',
      'web-secret-0123456789abcdef',
      oidc.ClientSecretBasic('web-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
  })
  afterAll(async () => {
    await server?.close()
  })

  async function expectRefused(res: Response, what: string) {
    expect(res.status, what).toBe(403)
    const page = await res.text()
    expect(page, what).toContain('Request not accepted')
    expect(page, what).toContain('not accepted')
    expect(res.headers.get('content-type')).toMatch(/text\/html/)
  }

  /** Signs in through the login and consent forms, each first posted from every hostile place. */
  async function signInThroughForms(ua: UserAgent, headers: Record<string, string>) {
    const start = await startAuth(ua, config, { prompt: 'consent' })
    const login = { csrf: field(start.html, 'csrf'), email: 'ann@example.com', password: PASSWORD }
    for (const [name, h] of HOSTILE)
      await expectRefused(
        await ua.request(formAction(start.html, '/login'), { form: login, headers: h }),
        `login from ${name}`,
      )
    expect(ua.cookieNames(), 'no sign-in session from a refused post').not.toContain('portcullis_sid')
    const posted = await ua.request(formAction(start.html, '/login'), { form: login, headers })
    expect(posted.status).toBe(303)
    const consent = await ua.follow(posted, (u) => u.origin !== server.url)
    const html = await consent.res!.text()
    expect(html).toContain('/confirm')
    for (const [name, h] of HOSTILE)
      await expectRefused(
        await ua.request(formAction(html, '/confirm'), { form: { csrf: field(html, 'csrf') }, headers: h }),
        `consent from ${name}`,
      )
    const done = await ua.follow(
      await ua.request(formAction(html, '/confirm'), { form: { csrf: field(html, 'csrf') }, headers }),
      (u) => u.origin !== server.url,
    )
    expect(done.url.searchParams.get('code'), 'a code at the client').toBeTruthy()
    return { callback: done.url, verifier: start.verifier }
  }

  it('login and consent: same-origin posts work; other sites are refused even with a valid CSRF token', async () => {
    const ua = new UserAgent(server.url)
    const { callback, verifier } = await signInThroughForms(ua, ours)
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier })
    expect(tokens.claims()!.sub).toBe((await server.container.users.findByEmail('ann@example.com'))!.id)
  })

  it('an old client sending neither Origin nor Sec-Fetch-Site still signs in on the CSRF token alone', async () => {
    await signInThroughForms(new UserAgent(server.url), {})
  })

  it('the passkey JSON endpoints of the sign-in page refuse other sites too', async () => {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, config)
    const action = formAction(start.html, '/login').replace('/login', '/passkey/options')
    const refused = await ua.request(action, {
      method: 'POST',
      json: {},
      headers: {
        'x-csrf-token': field(start.html, 'csrf'),
        'sec-fetch-site': 'cross-site',
        accept: 'application/json',
      },
    })
    expect(refused.status).toBe(403)
    expect(await refused.json()).toMatchObject({ error: 'cross_site_request' })
  })

  it('account pages: a cross-site post with a valid CSRF token changes nothing; same-origin works', async () => {
    const ua = new UserAgent(server.url)
    const start = await ua.follow(await ua.request('/account/login'), (u) => u.origin !== server.url)
    const loginPage = await start.res!.text()
    const posted = await ua.request(formAction(loginPage, '/login'), {
      form: { csrf: field(loginPage, 'csrf'), email: 'ann@example.com', password: PASSWORD },
      headers: ours,
    })
    const account = await ua.follow(posted, (u) => u.origin !== server.url)
    const html = await account.res!.text()
    expect(html).toContain('Your account')
    const csrf = field(html, 'csrf')
    for (const [name, h] of HOSTILE) {
      await expectRefused(
        await ua.request('/account/profile', { form: { csrf, name: `Mallory ${name}` }, headers: h }),
        `profile from ${name}`,
      )
      await expectRefused(await ua.request('/account/logout', { form: { csrf }, headers: h }), `sign-out from ${name}`)
    }
    const user = await server.container.users.findByEmail('ann@example.com')
    expect(user!.name).toBe('Ann')
    const saved = await ua.request('/account/profile', { form: { csrf, name: 'Ann Same-Origin' }, headers: ours })
    expect(saved.status).toBe(303)
    expect(saved.headers.get('location')).toBe('/account?done=profile')
    expect((await server.container.users.findByEmail('ann@example.com'))!.name).toBe('Ann Same-Origin')
    // an API key form (account keys) sits behind the same guard
    await expectRefused(
      await ua.request('/account/keys', { form: { csrf, name: 'k' }, headers: HOSTILE[0]![1] }),
      'key creation',
    )
    // the session survived every refused sign-out
    expect((await ua.request('/account')).status).toBe(200)
  })

  it('device code entry (/device): other sites are refused, the same origin gets the confirmation page', async () => {
    const started = await oidc.initiateDeviceAuthorization(config, { scope: 'openid email' })
    const ua = new UserAgent(server.url)
    const html = await (await ua.request(started.verification_uri)).text()
    const form = { xsrf: field(html, 'xsrf'), user_code: started.user_code }
    for (const [name, h] of HOSTILE)
      await expectRefused(
        await ua.request(formAction(html, '/device'), { form, headers: h }),
        `device code from ${name}`,
      )
    const submitted = await ua.request(formAction(html, '/device'), { form, headers: ours })
    expect(submitted.status).toBe(200)
    expect(await submitted.text()).toContain(started.user_code)
  })

  it('sign-out confirmation: other sites are refused; a relying party still sends its users to end_session', async () => {
    const ua = new UserAgent(server.url)
    await signInThroughForms(ua, ours)
    // OIDC RP-Initiated Logout 1.0 §2: the relying party sends the user here from its own site
    const page = await ua.request('/session/end?client_id=web', { headers: { 'sec-fetch-site': 'cross-site' } })
    expect(page.status).toBe(200)
    const html = await page.text()
    const form = { xsrf: field(html, 'xsrf'), logout: 'yes' }
    for (const [name, h] of HOSTILE)
      await expectRefused(
        await ua.request(formAction(html, '/session/end'), { form, headers: h }),
        `sign-out from ${name}`,
      )
    const done = await ua.request(formAction(html, '/session/end'), { form, headers: ours })
    expect([200, 303]).toContain(done.status)
    const after = await ua.follow(done, () => false)
    expect(await after.res!.text()).toContain('You are signed out')
  })
})

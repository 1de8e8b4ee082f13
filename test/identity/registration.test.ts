import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import crypto from 'node:crypto'
import { leadingZeroBits, solveProofOfWork } from '../../src/identity/signup-challenge.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { CALLBACK, completeToCallback, startAuth, submit } from '../helpers/strong-login.ts'

/**
 * Self-registration (issue 14 §4) over HTTP with a real SMTP server: off by default (404, no
 * link); when on, the form checks domain, password policy and the proof of work; the answer
 * is the same for a new and an existing address (whose owner gets a mail instead); the new
 * account cannot finish a sign-in (no code) until the mailed link was followed; sign-ups are
 * rate limited per IP (class `signup`) and per address (silently).
 */
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'web-secret-0123456789abcdef'
const BITS = 8

describe('registration disabled (the default)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it('has no /register page and no "Create account" link on the sign-in page', async () => {
    expect(server.config.REGISTRATION_ENABLED).toBe(false)
    expect((await fetch(`${server.url}/register`)).status).toBe(404)
    const posted = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: server.url },
      body: `email=a%40example.com&new_password=${encodeURIComponent(PASSWORD)}&confirm_password=${encodeURIComponent(PASSWORD)}`,
    })
    expect(posted.status).toBe(404)
    expect(await server.container.users.findByEmail('a@example.com')).toBeNull()
    const ua = new UserAgent(server.url)
    const hop = await ua.follow(await ua.request('/account/login'), (u) => u.origin !== server.url)
    const html = await hop.res!.text()
    expect(html).toContain('Forgot password?')
    expect(html).not.toContain('Create account')
    expect(html).not.toContain('/register')
  })

  it('does not offer prompt=create (discovery), and refuses it', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
      prompt_values_supported: string[]
    }
    expect(meta.prompt_values_supported).not.toContain('create')
    await applyDocument(
      server.container,
      (
        await validateDocument(server.container, {
          clients: [
            {
              client_id: 'web',
              client_secret: SECRET,
              redirect_uris: [CALLBACK],
              grant_types: ['authorization_code'],
              response_types: ['code'],
              scope: 'openid email',
            },
          ],
        })
      ).doc!,
    )
    const web = await oidc.discovery(new URL(server.url), 'web', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
    const start = await startAuth(new UserAgent(server.url), web, { prompt: 'create' })
    expect(start.callback?.searchParams.get('error')).toBe('invalid_request')
  })
})

describeOnBackends('registration.test.ts', 'self-registration', (backend) => {
  let server: TestServer
  let mx: TestSmtp
  let web: oidc.Configuration
  let ipSeq = 0
  /** each test its own client address (X-Forwarded-For from 127.0.0.1 is believed) */
  const newIp = () => `198.51.100.${++ipSeq}`

  beforeAll(async () => {
    mx = await startSmtp()
    server = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      env: {
        SMTP_URL: mx.url,
        SMTP_REQUIRE_STARTTLS: 'false',
        MAIL_FROM: 'id@acme.example',
        PRODUCT_NAME: 'Acme ID',
        REGISTRATION_ENABLED: 'true',
        REGISTRATION_ALLOWED_DOMAINS: 'example.com, *.example.org',
        REGISTRATION_POW_BITS: String(BITS),
        REGISTRATION_PER_ADDRESS: '2',
        RATE_LIMIT_SIGNUP: '4/3600',
        TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
      },
    })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'web',
          client_secret: SECRET,
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
        },
      ],
      users: [{ email: 'taken@example.com', password: PASSWORD, email_verified: true }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    web = await oidc.discovery(new URL(server.url), 'web', SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })
  })
  afterAll(async () => {
    await server?.close()
    await mx?.close()
  })

  /** A nonce that does not do the work (0 would, once in 2^BITS). */
  const unsolved = (challenge: string) =>
    String(
      [...Array(64).keys()].find(
        (n) => leadingZeroBits(crypto.createHash('sha256').update(`${challenge}:${n}`).digest()) < BITS,
      ),
    )
  /** Opens the form and posts it with the proof of work solved (unless `solve` is false). */
  async function register(
    fields: Record<string, string>,
    opts: { ip?: string; solve?: boolean; ua?: UserAgent; interaction?: string } = {},
  ) {
    const ua = opts.ua ?? new UserAgent(server.url)
    const headers = { 'x-forwarded-for': opts.ip ?? newIp() }
    const form = await ua.request(`/register${opts.interaction ? `?interaction=${opts.interaction}` : ''}`, { headers })
    expect(form.status).toBe(200)
    const html = await form.text()
    const challenge = field(html, 'pow_challenge')
    const body: Record<string, string> = {
      pow_challenge: challenge,
      pow_nonce: opts.solve === false ? unsolved(challenge) : solveProofOfWork(challenge, BITS),
      confirm_password: fields.new_password ?? '',
      ...fields,
    }
    if (opts.interaction) body.interaction = opts.interaction
    const res = await ua.request('/register', { form: body, headers })
    return { res, text: await res.text(), body }
  }

  it('the sign-in page links to the registration page, which keeps the way back', async () => {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const uid = formAction(start.html, '/login').split('/')[2]!
    expect(start.html).toContain(`href="/register?interaction=${uid}"`)
    const page = await ua.request(`/register?interaction=${uid}`)
    expect(page.headers.get('cache-control')).toBe('no-store')
    const html = await page.text()
    expect(html).toContain(`href="/interaction/${uid}?signin=1"`)
    expect(html).toContain('example.com, *.example.org')
    expect(html).toContain('/assets/pow.js')
  })

  it('a client asking for German (ui_locales=de) gets the sign-up link, form, errors, answer and mail in German, not remembered', async () => {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web, { ui_locales: 'de' })
    expect(start.html).toContain('<html lang="de">')
    const uid = formAction(start.html, '/login').split('/')[2]!
    const link = /href="([^"]+)" id="create-account">Konto erstellen</.exec(start.html)![1]!.replace(/&amp;/g, '&')
    expect(link).toBe(`/register?interaction=${uid}&ui_locales=de`)
    expect(start.html).toContain(`href="/password/forgot?interaction=${uid}&amp;ui_locales=de"`)
    // The browser itself asks for English: the client's choice wins on the way through.
    const round = async (fields: Record<string, string>) => {
      const headers = { 'x-forwarded-for': newIp(), 'accept-language': 'en' }
      const html = await (await ua.request(link, { headers })).text()
      expect(html).toContain('<html lang="de">')
      expect(html).toContain('Ihr Acme ID-Konto erstellen')
      expect(html).toContain('action="/register?ui_locales=de"')
      const challenge = field(html, 'pow_challenge')
      const res = await ua.request('/register?ui_locales=de', {
        headers,
        form: { pow_challenge: challenge, pow_nonce: solveProofOfWork(challenge, BITS), interaction: uid, ...fields },
      })
      return { status: res.status, html: await res.text() }
    }
    const bad = await round({
      email: 'deutsch@example.com',
      new_password: PASSWORD,
      confirm_password: 'something else entirely',
    })
    expect(bad.status).toBe(400)
    expect(bad.html).toContain('Die beiden Passwörter stimmen nicht überein.')
    const malformed = await round({ email: 'not an address', new_password: PASSWORD, confirm_password: PASSWORD })
    expect(malformed.status).toBe(400)
    expect(malformed.html).toContain('Geben Sie eine gültige E-Mail-Adresse ein.')
    const ok = await round({ email: 'deutsch@example.com', new_password: PASSWORD, confirm_password: PASSWORD })
    expect(ok.status).toBe(200)
    expect(ok.html).toContain('Prüfen Sie Ihre E-Mails')
    const mail = await mx.waitFor(
      (m) =>
        m.subject === 'Bestätigen Sie Ihre Acme ID-E-Mail-Adresse' && m.text?.includes('deutsch@example.com') === true,
    )
    expect(mail.html).toContain('<html lang="de">')
    // Not remembered: the next page without it follows the browser again.
    const after = await ua.request('/register', { headers: { 'x-forwarded-for': newIp(), 'accept-language': 'en' } })
    expect(await after.text()).toContain('<html lang="en">')
    expect(after.headers.get('set-cookie') ?? '').not.toMatch(/lang=/)
  })

  it('prompt=create (OpenID Connect Prompt Create 1.0) opens the registration page; "Back to sign in" goes on to the sign-in page', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
      prompt_values_supported: string[]
    }
    expect(meta.prompt_values_supported).toContain('create')
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web, { prompt: 'create' })
    expect(start.html).toContain('Create your Acme ID account')
    const back = /href="(\/interaction\/[^"]+\?signin=1)"/.exec(start.html)![1]!
    const hop = await ua.follow(await ua.request(back), (u) => u.origin !== server.url)
    const login = await hop.res!.text()
    expect(login).toContain('name="password"')
    // and signing in from there works as usual
    const posted = await submit(ua, login, '/login', { email: 'taken@example.com', password: PASSWORD })
    const callback = await completeToCallback(ua, server.url, posted)
    expect(callback.searchParams.get('code')).toBeTruthy()
  })

  it('register -> same answer -> verification mail; signing in before verifying shows a page with a resend button and issues no code; after the link, tokens', async () => {
    const r = await register({ email: 'Neva@Example.com', name: 'Neva', new_password: PASSWORD })
    expect(r.res.status).toBe(200)
    expect(r.text).toContain('Check your mail')
    await server.container.registration.settled()
    const neva = (await server.container.users.findByEmail('neva@example.com'))!
    expect(neva).toMatchObject({
      email: 'neva@example.com',
      name: 'Neva',
      emailVerified: false,
      mustVerifyEmail: true,
      roles: [],
    })
    const first = await mx.waitFor(
      (m) => m.subject === 'Verify your Acme ID email address' && m.text?.includes('neva@example.com') === true,
    )
    expect(first.text).not.toContain(PASSWORD)

    // Sign in before verifying: the verify-first page, no code for the client.
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const posted = await submit(ua, start.html, '/login', { email: 'neva@example.com', password: PASSWORD })
    const hop = await ua.follow(posted, (u) => u.origin !== server.url)
    expect(hop.res, 'no redirect to the client').toBeDefined()
    const page = await hop.res!.text()
    expect(page).toContain('Verify your email address first')
    expect(page).toContain('Send the link again')
    // "Continue" before the link was followed: still nothing.
    const early = await submit(ua, page, '/verify/continue', {})
    expect(early.status).toBe(400)
    expect(await early.text()).toContain('not verified yet')
    // Resend: a second mail with another link.
    const resent = await submit(ua, page, '/verify/resend', {})
    expect(resent.status).toBe(200)
    expect(await resent.text()).toContain('A new link is on its way')
    await expect
      .poll(
        () =>
          mx.messages.filter(
            (m) => m.subject === 'Verify your Acme ID email address' && m.text?.includes('neva@example.com'),
          ).length,
      )
      .toBe(2)
    const second = mx.messages
      .filter((m) => m.text?.includes('neva@example.com') && m.subject?.startsWith('Verify'))
      .at(-1)!

    // Follow the newest link (GET shows a button, POST verifies).
    const link = linkIn(second, '/email/verify')
    const anon = new UserAgent(server.url)
    const confirm = await anon.request(link)
    const confirmed = await anon.request('/email/verify', { form: { token: field(await confirm.text(), 'token') } })
    expect(confirmed.status).toBe(200)
    // Back in the sign-in tab: continue, and the client gets its code.
    const cont = await submit(ua, page, '/verify/continue', {})
    const callback = await completeToCallback(ua, server.url, cont)
    const tokens = await oidc.authorizationCodeGrant(web, callback, {
      pkceCodeVerifier: start.verifier,
      idTokenExpected: true,
    })
    const info = await oidc.fetchUserInfo(web, tokens.access_token, tokens.claims()!.sub)
    expect(info).toMatchObject({ email: 'neva@example.com', email_verified: true })

    await server.container.audit.flush()
    const audit = server.container.queries.audit
    expect(
      (await audit.list({ action: 'user.registered' })).some((e) => e.target === neva.id && e.outcome === 'success'),
    ).toBe(true)
    expect(
      (await audit.list({ action: 'login' })).some(
        (e) =>
          e.actor === neva.id &&
          e.outcome === 'failure' &&
          (e.details as { reason?: string }).reason === 'email_not_verified',
      ),
    ).toBe(true)
  })

  it('an address that already has an account gets the same answer; its owner gets a mail and nothing changes', async () => {
    const fresh = await register({ email: 'brand-new@example.com', new_password: PASSWORD })
    const taken = await register({ email: 'taken@example.com', new_password: 'another quite long passphrase here' })
    expect(taken.res.status).toBe(fresh.res.status)
    const strip = (s: string) => s.replaceAll('brand-new@example.com', 'X').replaceAll('taken@example.com', 'X')
    expect(strip(taken.text)).toBe(strip(fresh.text))
    await server.container.registration.settled()
    const mail = await mx.waitFor((m) => m.subject === 'Someone tried to sign up for Acme ID with your address')
    expect(mail.text).toContain('nothing was created')
    expect(mail.text).toContain('/password/forgot')
    expect(mail.text).not.toContain('another quite long passphrase here')
    // The existing account keeps its password and state.
    expect((await server.container.users.login('taken@example.com', PASSWORD)).ok).toBe(true)
    expect((await server.container.users.findByEmail('taken@example.com'))!.mustVerifyEmail).toBe(false)
  })

  it('refuses a domain that is not allowed, a breached or weak password, mismatched passwords, and a missing proof of work', async () => {
    for (const email of ['eve@evil.test', 'eve@example.org', 'eve@notexample.com']) {
      const r = await register({ email, new_password: PASSWORD })
      expect(r.res.status, email).toBe(400)
      expect(r.text).toContain('cannot be created for addresses at this domain')
    }
    const sub = await register({ email: 'ok@dept.example.org', new_password: PASSWORD })
    expect(sub.res.status).toBe(200)

    const breached = await register({ email: 'weak@example.com', new_password: 'password1234' })
    expect(breached.res.status).toBe(400)
    expect(breached.text).toContain('leaked passwords')
    const mismatch = await register({
      email: 'weak@example.com',
      new_password: PASSWORD,
      confirm_password: 'something else',
    })
    expect(mismatch.text).toContain('do not match')
    const noWork = await register({ email: 'bot@example.com', new_password: PASSWORD }, { solve: false })
    expect(noWork.res.status).toBe(400)
    expect(noWork.text).toContain('did not finish the check')

    // A solved challenge is good once.
    const ua = new UserAgent(server.url)
    const once = await register({ email: 'once@example.com', new_password: PASSWORD }, { ua })
    expect(once.res.status).toBe(200)
    const replay = await ua.request('/register', {
      form: { ...once.body, email: 'twice@example.com' },
      headers: { 'x-forwarded-for': newIp() },
    })
    expect(replay.status).toBe(400)
    await server.container.registration.settled()
    for (const email of ['eve@evil.test', 'weak@example.com', 'bot@example.com', 'twice@example.com']) {
      expect(await server.container.users.findByEmail(email), email).toBeNull()
    }
    expect(await server.container.users.findByEmail('once@example.com')).not.toBeNull()
  })

  it('hostile input is a 400 page, never a 500; posts from another site are refused', async () => {
    for (const fields of <Record<string, string>[]>[
      { email: 'nul\u0000@example.com', new_password: PASSWORD },
      { email: 'x'.repeat(400) + '@example.com', new_password: PASSWORD },
      { email: 'ok2@example.com', name: 'bad\u0007name', new_password: PASSWORD },
      { email: 'ok2@example.com', new_password: 'p'.repeat(5000) },
      { email: '', new_password: '' },
    ]) {
      const r = await register(fields)
      expect(r.res.status, JSON.stringify(fields).slice(0, 80)).toBe(400)
    }
    const cross = await fetch(`${server.url}/register`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        origin: 'https://evil.example',
        'x-forwarded-for': newIp(),
      },
      body: 'email=x%40example.com',
    })
    expect(cross.status).toBe(403)
    expect(await server.container.users.findByEmail('ok2@example.com')).toBeNull()
  })

  it('is rate limited per IP (class signup, a 429 page) and per address (silently: same answer, no mail)', async () => {
    const ip = newIp()
    const statuses: number[] = []
    for (let i = 0; i < 5; i++) {
      const ua = new UserAgent(server.url)
      // the form (GET) is not counted; the posts are
      statuses.push((await register({ email: `burst${i}@example.com`, new_password: PASSWORD }, { ip, ua })).res.status)
    }
    expect(statuses.slice(0, 4)).toEqual([200, 200, 200, 200])
    expect(statuses[4]).toBe(429)

    // Per address (REGISTRATION_PER_ADDRESS=2): the third sign-up for one address sends nothing.
    for (let i = 0; i < 3; i++)
      expect((await register({ email: 'taken@example.com', new_password: PASSWORD })).res.status).toBe(200)
    await server.container.registration.settled()
    await server.container.audit.flush()
    const refused = (await server.container.queries.audit.list({ action: 'user.registered' })).filter(
      (e) => e.outcome === 'failure' && (e.details as { reason?: string }).reason === 'rate_limited',
    )
    expect(refused.length).toBeGreaterThanOrEqual(1)
  })
})

import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { CALLBACK, completeToCallback, idTokenClaims, startAuth, submit, totpNow } from '../helpers/strong-login.ts'

/**
 * Forgotten password over real HTTP with a real SMTP server (issue 14 §3): the link from the
 * received mail is followed; reused and expired links are refused; an unknown address gets the
 * same answer and no mail; per-address and per-IP limits; sessions end and a lockout clears;
 * a user with a second factor still needs it; hostile input is a 400.
 */
const OLD = 'quiet river lamp orbit'
const NEW = 'copper kettle whistles twice'
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP'

describeOnBackends('password-reset.test.ts', 'forgotten password over HTTP', (backend) => {
  let server: TestServer
  let mx: TestSmtp
  let web: oidc.Configuration
  let ip = 0
  // Each test speaks from its own address (TRUSTED_PROXIES), so the per-IP limit is per test.
  const from = () => ({ 'x-forwarded-for': `198.51.100.${++ip}` })

  beforeAll(async () => {
    mx = await startSmtp()
    server = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      env: {
        SMTP_URL: mx.url,
        SMTP_REQUIRE_STARTTLS: 'false',
        MAIL_FROM: 'Acme ID <id@acme.example>',
        PRODUCT_NAME: 'Acme <ID>',
        TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
        PASSWORD_RESET_PER_IP: '5',
        PASSWORD_RESET_PER_ADDRESS: '3',
        LOGIN_FAILURE_DELAY_MS: '10',
        LOGIN_MAX_FAILURES: '3',
      },
    })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'web',
          client_secret: 'web-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid email',
        },
      ],
      users: ['amy', 'ben', 'cyd', 'dot', 'eve', 'fin', 'gus'].map((n) => ({
        email: `${n}@example.com`,
        password: OLD,
        ...(n === 'eve' ? { totp_secret: SECRET } : {}),
      })),
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    web = await oidc.discovery(
      new URL(server.url),
      'web',
      'web-secret-0123456789abcdef',
      oidc.ClientSecretBasic('web-secret-0123456789abcdef'),
      { execute: [oidc.allowInsecureRequests] },
    )
  })
  afterAll(async () => {
    await server?.close()
    await mx?.close()
  })

  const forgot = (email: string, headers: Record<string, string> = from()) =>
    new UserAgent(server.url).request('/password/forgot', { form: { email }, headers })
  /** Asks for a reset and returns the link from the mail that arrives. */
  async function resetLink(email: string) {
    const before = mx.messages.length
    const res = await forgot(email)
    expect(res.status).toBe(200)
    const mail = await mx.waitFor((m) => mx.messages.indexOf(m) >= before && m.text?.includes(email) === true)
    return { mail, link: linkIn(mail, '/password/reset') }
  }
  async function setPassword(link: URL, password: string, headers: Record<string, string> = {}) {
    const ua = new UserAgent(server.url)
    const form = await ua.request(link)
    const html = await form.text()
    if (form.status !== 200) return { res: form, html }
    const res = await ua.request(formAction(html, '/password/reset'), {
      form: { token: field(html, 'token'), new_password: password, confirm_password: password },
      headers,
    })
    return { res, html: await res.text() }
  }
  async function signInWith(email: string, password: string) {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const posted = await submit(ua, start.html, '/login', { email, password })
    return { ua, posted, verifier: start.verifier }
  }

  it('the sign-in page links to "Forgot password?", which leads to the form', async () => {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const href = /href="(\/password\/forgot\?interaction=[\w-]+)"[^>]*>Forgot password\?/.exec(start.html)?.[1]
    expect(href).toBeTruthy()
    const page = await ua.request(href!)
    expect(page.status).toBe(200)
    expect(page.headers.get('cache-control')).toBe('no-store')
    const html = await page.text()
    expect(html).toContain('name="email"')
    expect(html).toContain(`href="/interaction/${href!.split('=')[1]}"`)
  })

  it('happy path: the mailed link sets a new password, ends other sessions, is audited without the token, and works once', async () => {
    const signedIn = await signInWith('amy@example.com', OLD)
    expect(signedIn.posted.status).toBe(303)
    const amy = (await server.container.users.findByEmail('amy@example.com'))!
    expect(await server.container.login.sessions.list(amy.id)).toHaveLength(1)

    const { mail, link } = await resetLink('amy@example.com')
    expect(mail.subject).toBe('Reset your Acme <ID> password')
    expect(mail.html).toContain('Acme &lt;ID&gt;')
    const token = link.searchParams.get('token')!
    expect(token).toMatch(/^[\w-]{43}$/)
    // Only the hash is at rest.
    const rows = await server.container.db.emailToken.findMany({ where: { userId: amy.id } })
    expect(rows.some((r) => r.id === token)).toBe(false)

    const done = await setPassword(link, NEW, { 'x-request-id': 'reset-amy-1' })
    expect(done.res.status).toBe(200)
    expect(done.html).toContain('Your password was changed')
    expect(await server.container.login.sessions.list(amy.id)).toHaveLength(0)
    expect((await signInWith('amy@example.com', OLD)).posted.status).toBe(401)
    const ok = await signInWith('amy@example.com', NEW)
    const claims = await idTokenClaims(web, await completeToCallback(ok.ua, server.url, ok.posted), ok.verifier)
    expect(claims.sub).toBe(amy.id)

    await server.container.audit.flush()
    const events = await server.container.queries.audit.list({ action: 'user.password_reset' })
    const event = events.find((e) => e.actor === amy.id)!
    expect(event.requestId).toBe('reset-amy-1')
    expect(JSON.stringify(events)).not.toContain(token)

    // The same link again: refused, and the password stays.
    const again = await setPassword(link, 'another fine long passphrase')
    expect(again.res.status).toBe(400)
    expect(again.html).toContain('does not work any more')
    expect((await signInWith('amy@example.com', NEW)).posted.status).toBe(303)
  })

  it('an expired link is refused; a policy failure keeps the link usable', async () => {
    const { link } = await resetLink('ben@example.com')
    const weak = await setPassword(link, 'password1234')
    expect(weak.res.status).toBe(400)
    expect(weak.html).toMatch(/common or leaked|too easy/)
    await server.container.db.emailToken.updateMany({
      data: { expiresAt: new Date(Date.now() - 1000) },
      where: { usedAt: null, email: 'ben@example.com' },
    })
    const expired = await setPassword(link, NEW)
    expect(expired.res.status).toBe(400)
    expect(expired.html).toContain('does not work any more')
    expect((await signInWith('ben@example.com', OLD)).posted.status).toBe(303)
  })

  it('two parallel uses of one link: exactly one sets the password', async () => {
    const { link } = await resetLink('cyd@example.com')
    const ua = new UserAgent(server.url)
    const html = await (await ua.request(link)).text()
    const token = field(html, 'token')
    const post = (password: string) =>
      new UserAgent(server.url).request('/password/reset', {
        form: { token, new_password: password, confirm_password: password },
      })
    const results = await Promise.all([post(NEW), post('marble harbor lantern drift')])
    expect(results.map((r) => r.status).sort()).toEqual([200, 400])
  })

  it('an unknown address gets the same answer (status and page) and no mail', async () => {
    const known = await forgot('cyd@example.com')
    const unknown = await forgot('nobody@example.com')
    expect(unknown.status).toBe(known.status)
    const strip = (html: string, email: string) => html.replaceAll(email, 'EMAIL')
    expect(strip(await unknown.text(), 'nobody@example.com')).toBe(strip(await known.text(), 'cyd@example.com'))
    await server.container.passwordReset.settled()
    await server.container.mail.drain()
    await mx.waitFor((m) => m.text?.includes('cyd@example.com') === true)
    expect(await server.container.mail.pending()).toBe(0)
    expect(mx.messages.some((m) => m.text?.includes('nobody@example.com'))).toBe(false)
  })

  it('rate limits: a fourth request for one address gets the same answer but no mail; a sixth from one IP gets 429', async () => {
    const headers = from()
    for (let i = 0; i < 4; i++) expect((await forgot('dot@example.com', headers)).status).toBe(200)
    await server.container.passwordReset.settled()
    await server.container.mail.drain()
    await mx.waitFor(() => mx.messages.filter((m) => m.text?.includes('dot@example.com')).length >= 3)
    expect(await server.container.mail.pending()).toBe(0)
    expect(mx.messages.filter((m) => m.text?.includes('dot@example.com'))).toHaveLength(3)
    await forgot('nobody2@example.com', headers)
    const limited = await forgot('nobody3@example.com', headers)
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect((await forgot('nobody3@example.com')).status).toBe(200) // another address is not held back
  })

  it('a user with a second factor still needs it after a reset', async () => {
    const { link } = await resetLink('eve@example.com')
    expect((await setPassword(link, NEW)).res.status).toBe(200)
    const { ua, posted, verifier } = await signInWith('eve@example.com', NEW)
    expect(posted.status).toBe(303)
    const page = await (await ua.request(posted.headers.get('location')!)).text()
    expect(page).toContain('Code from your authenticator app')
    const ok = await submit(ua, page, '/mfa', { method: 'totp', code: await totpNow(SECRET) })
    const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, ok), verifier)
    expect(claims.amr).toEqual(['pwd', 'otp', 'mfa'])
  })

  it('a reset clears a lockout', async () => {
    for (let i = 0; i < 4; i++) await signInWith('fin@example.com', 'wrong password entirely')
    expect(await server.container.login.lockout.isLocked('fin@example.com')).toBe(true)
    const { link } = await resetLink('fin@example.com')
    expect((await setPassword(link, NEW)).res.status).toBe(200)
    expect((await signInWith('fin@example.com', NEW)).posted.status).toBe(303)
  })

  it('hostile input is a 400 with a page, never a 500: NUL, huge, lone surrogate, malformed addresses and tokens', async () => {
    for (const email of [
      'gus@example.com\u0000',
      'a'.repeat(10_000) + '@example.com',
      '\ud800@example.com',
      'not-an-address',
      '',
    ]) {
      const res = await forgot(email)
      expect(res.status, JSON.stringify(email.slice(0, 20))).toBe(400)
      // A NUL is refused at the edge before the page sees it (a lone surrogate cannot even be
      // form-encoded: it arrives as U+FFFD, which the page refuses as an address).
      const atEdge = email.includes('\u0000')
      expect(await res.text()).toMatch(atEdge ? /cannot be accepted/ : /forgot-error/)
    }
    const ua = new UserAgent(server.url)
    for (const token of ['x', 'a'.repeat(43), '%00'.repeat(20), 'a'.repeat(5000)]) {
      expect((await ua.request(`/password/reset?token=${token}`)).status).toBe(400)
      expect(
        (
          await ua.request('/password/reset', {
            form: { token: decodeURIComponent(token), new_password: NEW, confirm_password: NEW },
          })
        ).status,
      ).toBe(400)
    }
    // A good link with a NUL in the password: refused at the edge (400), and the link, which
    // that request did not use up, still sets a valid password.
    const { link } = await resetLink('gus@example.com')
    const bad = await setPassword(link, `${NEW}\u0000`)
    expect(bad.res.status).toBe(400)
    expect(bad.html).toMatch(/cannot be accepted/)
    expect((await setPassword(link, NEW)).res.status).toBeLessThan(400)
    // A form from another site is refused before anything happens.
    const cross = await new UserAgent(server.url).request('/password/forgot', {
      form: { email: 'gus@example.com' },
      headers: { origin: 'https://evil.example', ...from() },
    })
    expect(cross.status).toBe(403)
  })
})

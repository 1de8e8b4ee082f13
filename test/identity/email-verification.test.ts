import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { CALLBACK, completeToCallback, startAuth, submit } from '../helpers/strong-login.ts'

/**
 * Email verification (issue 14 §2) with a real SMTP server: `email_verified` (userinfo)
 * is false until the user followed the mailed link (or the import vouched for the address);
 * the link works once, only for the signed-in owner's request, and not after it expired.
 */
const PASSWORD = 'quiet river lamp orbit'

describeOnBackends('email-verification.test.ts', 'email verification over HTTP', (backend) => {
  let server: TestServer
  let mx: TestSmtp
  let web: oidc.Configuration

  beforeAll(async () => {
    mx = await startSmtp()
    server = await startTestServer({
      kind: backend.kind,
      redisUrl: backend.redisUrl,
      env: { SMTP_URL: mx.url, SMTP_REQUIRE_STARTTLS: 'false', MAIL_FROM: 'id@acme.example', PRODUCT_NAME: 'Acme ID' },
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
      users: [
        { email: 'ora@example.com', password: PASSWORD },
        { email: 'pip@example.com', password: PASSWORD },
        { email: 'vouched@example.com', password: PASSWORD, email_verified: true },
        { email: 'quin@example.com', password: PASSWORD, email_verified: true },
      ],
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

  async function emailVerifiedClaim(email: string) {
    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const posted = await submit(ua, start.html, '/login', { email, password: PASSWORD })
    const tokens = await oidc.authorizationCodeGrant(web, await completeToCallback(ua, server.url, posted), {
      pkceCodeVerifier: start.verifier,
      idTokenExpected: true,
    })
    const claims = tokens.claims()!
    return (await oidc.fetchUserInfo(web, tokens.access_token, claims.sub)).email_verified
  }
  async function accountSession(email: string) {
    const ua = new UserAgent(server.url)
    const start = await ua.follow(await ua.request('/account/login'), (u) => u.origin !== server.url)
    const loginPage = await start.res!.text()
    const posted = await ua.request(formAction(loginPage, '/login'), {
      form: { csrf: field(loginPage, 'csrf'), email, password: PASSWORD },
    })
    const html = await (await ua.follow(posted, (u) => u.origin !== server.url)).res!.text()
    expect(html).toContain('Your account')
    return { ua, html }
  }

  it('unverified until the mailed link is followed and confirmed; then userinfo says email_verified: true', async () => {
    expect(await emailVerifiedClaim('ora@example.com')).toBe(false)
    const { ua, html } = await accountSession('ora@example.com')
    expect(html).toContain('Your email address is not verified yet.')
    const sent = await ua.request('/account/email/verify', { form: { csrf: field(html, 'csrf') } })
    expect(sent.status).toBe(303)
    expect(sent.headers.get('location')).toBe('/account?done=verify_sent')
    const mail = await mx.waitFor((m) => m.text?.includes('ora@example.com') === true)
    expect(mail.subject).toBe('Verify your Acme ID email address')
    const link = linkIn(mail, '/email/verify')

    // Fetching the link (a mail scanner) verifies nothing.
    const anon = new UserAgent(server.url)
    const page = await anon.request(link)
    expect(page.status).toBe(200)
    expect((await server.container.users.findByEmail('ora@example.com'))!.emailVerified).toBe(false)
    const confirmed = await anon.request('/email/verify', { form: { token: field(await page.text(), 'token') } })
    expect(confirmed.status).toBe(200)
    expect(await confirmed.text()).toContain('is verified')
    expect(await emailVerifiedClaim('ora@example.com')).toBe(true)
    await server.container.audit.flush()
    const ora = (await server.container.users.findByEmail('ora@example.com'))!
    expect(
      (await server.container.queries.audit.list({ action: 'user.email_verified' })).some((e) => e.target === ora.id),
    ).toBe(true)

    // Used once.
    const again = await anon.request('/email/verify', { form: { token: link.searchParams.get('token')! } })
    expect(again.status).toBe(400)
  })

  it('an address the import vouched for is verified without a link', async () => {
    expect(await emailVerifiedClaim('vouched@example.com')).toBe(true)
  })

  it('an expired link, a made-up token, and a request without a session or CSRF token change nothing', async () => {
    const { ua, html } = await accountSession('pip@example.com')
    expect((await ua.request('/account/email/verify', { form: { csrf: 'forged' } })).status).toBe(403)
    expect(
      (await new UserAgent(server.url).request('/account/email/verify', { form: { csrf: field(html, 'csrf') } }))
        .status,
    ).toBe(401)
    await ua.request('/account/email/verify', { form: { csrf: field(html, 'csrf') } })
    const link = linkIn(await mx.waitFor((m) => m.text?.includes('pip@example.com') === true), '/email/verify')
    await server.container.db.emailToken.updateMany({
      data: { expiresAt: new Date(Date.now() - 1000) },
      where: { email: 'pip@example.com' },
    })
    expect((await ua.request(link)).status).toBe(400)
    expect((await ua.request('/email/verify', { form: { token: link.searchParams.get('token')! } })).status).toBe(400)
    for (const token of ['', 'x'.repeat(43), '\u0000'.repeat(43), 'y'.repeat(10_000)]) {
      expect((await ua.request('/email/verify', { form: { token } })).status).toBe(400)
    }
    expect((await server.container.users.findByEmail('pip@example.com'))!.emailVerified).toBe(false)
  })

  it('changing the email: the password is asked again, nothing changes until the new address confirms, the old one is told', async () => {
    const { ua, html } = await accountSession('quin@example.com')
    const csrf = field(html, 'csrf')
    const wrong = await ua.request('/account/email', {
      form: { csrf, new_email: 'quinn@example.net', current_password: 'not my password' },
    })
    expect(wrong.status).toBe(400)
    expect(await wrong.text()).toContain('Your current password is not correct.')
    for (const bad of ['not-an-address', 'q\u0000@example.net', 'q'.repeat(5000) + '@example.net']) {
      expect(
        (await ua.request('/account/email', { form: { csrf, new_email: bad, current_password: PASSWORD } })).status,
      ).toBe(400)
    }
    // An address of another account: the same answer, and no mail to it.
    const taken = await ua.request('/account/email', {
      form: { csrf, new_email: 'ora@example.com', current_password: PASSWORD },
    })
    expect(taken.status).toBe(303)
    expect(taken.headers.get('location')).toBe('/account?done=change_sent')

    const asked = await ua.request('/account/email', {
      form: { csrf, new_email: 'Quinn@Example.NET', current_password: PASSWORD },
    })
    expect(asked.headers.get('location')).toBe('/account?done=change_sent')
    const mail = await mx.waitFor((m) => m.subject === 'Confirm your new Acme ID email address')
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.text : '').toBe('quinn@example.net')
    expect(await server.container.users.findByEmail('quin@example.com')).not.toBeNull()
    await server.container.mail.drain()
    expect(
      mx.messages.some(
        (m) => m.subject === 'Confirm your new Acme ID email address' && m.text?.includes('ora@example.com'),
      ),
    ).toBe(false)

    const link = linkIn(mail, '/email/change')
    const anon = new UserAgent(server.url)
    const confirm = await anon.request(link)
    expect(confirm.status).toBe(200)
    const done = await anon.request('/email/change', { form: { token: field(await confirm.text(), 'token') } })
    expect(done.status).toBe(200)
    const user = (await server.container.users.findByEmail('quinn@example.net'))!
    expect(user.emailVerified).toBe(true)
    expect(await server.container.users.findByEmail('quin@example.com')).toBeNull()
    const notice = await mx.waitFor((m) => m.subject === 'Your Acme ID email address was changed')
    expect(notice.to && !Array.isArray(notice.to) ? notice.to.text : '').toBe('quin@example.com')
    expect(notice.text).not.toMatch(/https?:\/\//)
    expect(await emailVerifiedClaim('quinn@example.net')).toBe(true)
    expect((await anon.request('/email/change', { form: { token: link.searchParams.get('token')! } })).status).toBe(400)
  })

  it('completing a password reset verifies the address the link was mailed to', async () => {
    const before = (await server.container.users.findByEmail('pip@example.com'))!
    expect(before.emailVerified).toBe(false)
    await new UserAgent(server.url).request('/password/forgot', { form: { email: 'pip@example.com' } })
    const mail = await mx.waitFor(
      (m) => m.subject === 'Reset your Acme ID password' && m.text?.includes('pip@example.com') === true,
    )
    const ua = new UserAgent(server.url)
    const form = await (await ua.request(linkIn(mail, '/password/reset'))).text()
    const NEW = 'copper kettle whistles twice'
    expect(
      (
        await ua.request('/password/reset', {
          form: { token: field(form, 'token'), new_password: NEW, confirm_password: NEW },
        })
      ).status,
    ).toBe(200)
    expect((await server.container.users.findByEmail('pip@example.com'))!.emailVerified).toBe(true)
  })
})

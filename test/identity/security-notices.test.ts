import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ParsedMail } from 'mailparser'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { loadConfig } from '../../src/config/env.ts'
import { describeOrigin } from '../../src/identity/security-notices.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'
import { totpNow } from '../helpers/strong-login.ts'

/**
 * Security notices (issue 14 §5) and invitations for imported users without a password
 * (issue 14 §8), with a real SMTP server: each notice arrives for the real action (account
 * page, sign-in, API key, lockout), carries no secret, and points to the reset page; a sign-in
 * from a browser the account has not used is told, a known one is not; the invitation link
 * sets the first password once.
 */
const PASSWORD = 'quiet river lamp orbit'
const NEW = 'copper kettle whistles twice'
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36'

describe('SECURITY_NOTICES and the origin line', () => {
  it('is all by default, none or a list, and names an unknown notice', () => {
    expect(loadConfig({}).SECURITY_NOTICES).toEqual([
      'new_device',
      'password_changed',
      'mfa_changed',
      'api_key_created',
      'account_locked',
    ])
    expect(loadConfig({ SECURITY_NOTICES: 'none' }).SECURITY_NOTICES).toEqual([])
    expect(loadConfig({ SECURITY_NOTICES: 'password_changed, new_device' }).SECURITY_NOTICES).toEqual([
      'password_changed',
      'new_device',
    ])
    expect(() => loadConfig({ SECURITY_NOTICES: 'password_changed,sms' })).toThrow(
      /SECURITY_NOTICES: unknown notice sms/,
    )
  })
  it('says browser, system and network, never the exact address', () => {
    expect(describeOrigin(CHROME, '203.0.113.77')).toBe('Chrome on Linux, network 203.0.113.0/24')
    expect(describeOrigin(null, '2001:db8:1:2::5')).toBe('network 2001:db8:1::/48')
    expect(describeOrigin(undefined, undefined)).toBeUndefined()
  })
})

describeOnBackends('security-notices.test.ts', 'security notices and invitations', (backend) => {
  let server: TestServer
  let mx: TestSmtp
  const to = (email: string, subject: string) => (m: ParsedMail) =>
    m.subject === subject && (m.to as { text?: string } | undefined)?.text === email
  const count = (email: string, subject: string) => mx.messages.filter(to(email, subject)).length

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
        LOGIN_MAX_FAILURES: '2',
        TRUSTED_PROXIES: '127.0.0.1/32,::1/128',
      },
    })
    const { doc, problems } = await validateDocument(server.container, {
      users: [
        { email: 'ada@example.com', password: PASSWORD, email_verified: true },
        { email: 'bo@example.com', password: PASSWORD, email_verified: true },
        { email: 'cy@example.com', password: PASSWORD },
        { email: 'inv@example.com', name: 'Invited' },
        { email: 'quiet@example.com', invite: false },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    await server?.close()
    await mx?.close()
  })

  /** Signs in to the account pages in `ua` (a browser with its own cookies). */
  async function accountSession(ua: UserAgent, email: string, password = PASSWORD, ip = '203.0.113.77') {
    const headers = { 'user-agent': CHROME, 'x-forwarded-for': ip }
    const start = await ua.follow(await ua.request('/account/login', { headers }), (u) => u.origin !== server.url)
    const loginPage = await start.res!.text()
    const posted = await ua.request(formAction(loginPage, '/login'), {
      form: { csrf: field(loginPage, 'csrf'), email, password },
      headers,
    })
    const html = await (await ua.follow(posted, (u) => u.origin !== server.url)).res!.text()
    expect(html).toContain('Your account')
    return html
  }

  it('a sign-in from a browser new to the account is mailed (not the first ever, not a known browser)', async () => {
    const subject = 'New sign-in to your Acme ID account'
    const laptop = new UserAgent(server.url)
    await accountSession(laptop, 'ada@example.com') // the first sign-in ever: nothing to compare with
    const phone = new UserAgent(server.url)
    await accountSession(phone, 'ada@example.com', PASSWORD, '198.51.100.9')
    const mail = await mx.waitFor(to('ada@example.com', subject))
    expect(mail.text).toContain('network 198.51.100.0/24')
    expect(mail.text).toContain('Chrome on Linux')
    expect(mail.text).not.toContain('198.51.100.9')
    expect(mail.text).toContain(`${server.url}/password/forgot`)
    expect(laptop.cookieNames()).toContain('portcullis_device')
    // Known browsers (signed out, only the device cookie kept): nothing new. Another account
    // on the same browser is its own matter.
    const again = (known: UserAgent) => {
      const ua = new UserAgent(server.url)
      ua.setCookie('portcullis_device', known.cookie('portcullis_device')!)
      return ua
    }
    await accountSession(again(laptop), 'ada@example.com')
    await accountSession(again(phone), 'ada@example.com', PASSWORD, '198.51.100.9')
    await accountSession(again(phone), 'bo@example.com') // bo's first sign-in: nothing
    // A fence: the next notice to ada arrives after anything the sign-ins above could have sent.
    await server.container.apikeys.issue(
      {
        owner: { type: 'user', id: (await server.container.users.findByEmail('ada@example.com'))!.id },
        name: 'fence',
        scopes: [],
        level: 'LOW',
      },
      { label: 'cli', isAdmin: true },
    )
    await mx.waitFor(to('ada@example.com', 'A new API key was created for your Acme ID account'))
    expect(count('ada@example.com', subject)).toBe(1)
    expect(count('bo@example.com', subject)).toBe(0)
  })

  it('password changed, second factor added and removed, API key created: each mailed, none with a secret', async () => {
    const ua = new UserAgent(server.url)
    let html = await accountSession(ua, 'cy@example.com')
    const changed = await ua.request('/account/password', {
      form: { csrf: field(html, 'csrf'), current_password: PASSWORD, new_password: NEW, confirm_password: NEW },
    })
    expect(changed.status).toBe(303)
    const pw = await mx.waitFor(to('cy@example.com', 'Your Acme ID password was changed'))
    expect(pw.text).not.toContain(NEW)
    expect(pw.text).toContain('If this was not you')
    expect(pw.html).toContain("This wasn't me")

    const totpPage = await (await ua.request('/account/totp')).text()
    const secret = totpPage.match(/id="totp-secret">([A-Z2-7 ]+)</)![1]!.replace(/ /g, '')
    const enrolled = await ua.request('/account/totp', {
      form: { csrf: field(totpPage, 'csrf'), code: await totpNow(secret), name: 'Phone' },
    })
    expect(enrolled.status).toBe(200)
    const added = await mx.waitFor(to('cy@example.com', 'A sign-in method was added to your Acme ID account'))
    expect(added.text).toContain('(authenticator app)')
    expect(added.text).not.toContain(secret)

    const cy = (await server.container.users.findByEmail('cy@example.com'))!
    const [factor] = await server.container.login.mfa.list(cy.id)
    html = await (await ua.request('/account')).text()
    const removed = await ua.request(`/account/factors/${factor!.id}/delete`, { form: { csrf: field(html, 'csrf') } })
    expect(removed.status).toBe(303)
    await mx.waitFor(to('cy@example.com', 'A sign-in method was removed from your Acme ID account'))

    const issued = await server.container.apikeys.issue(
      { owner: { type: 'user', id: cy.id }, name: 'deploy bot', scopes: [], level: 'LOW' },
      { label: 'cli', isAdmin: true },
    )
    const key = await mx.waitFor(to('cy@example.com', 'A new API key was created for your Acme ID account'))
    expect(key.text).toContain('named "deploy bot"')
    expect(key.text).not.toContain(issued.key)
  })

  it('an account locked by failed sign-ins is told, once', async () => {
    for (let i = 0; i < 4; i++) {
      const ua = new UserAgent(server.url)
      const start = await ua.follow(await ua.request('/account/login'), (u) => u.origin !== server.url)
      const page = await start.res!.text()
      await ua.request(formAction(page, '/login'), {
        form: { csrf: field(page, 'csrf'), email: 'bo@example.com', password: 'wrong wrong wrong' },
        headers: { 'x-forwarded-for': '192.0.2.50' },
      })
    }
    const mail = await mx.waitFor(to('bo@example.com', 'Your Acme ID account was locked'))
    expect(mail.text).toContain('too many failed sign-in attempts')
    expect(mail.text).toContain('/password/forgot')
    expect(count('bo@example.com', 'Your Acme ID account was locked')).toBe(1)
  })

  it('an imported user without a password gets an invitation: the link sets the first password once', async () => {
    const mail = await mx.waitFor(to('inv@example.com', 'You are invited to Acme ID'))
    const link = linkIn(mail, '/password/reset')
    const anon = new UserAgent(server.url)
    const page = await anon.request(link)
    expect(page.status).toBe(200)
    const html = await page.text()
    expect(html).toContain('inv@example.com')
    const weak = await anon.request('/password/reset', {
      form: { token: field(html, 'token'), new_password: 'password1234', confirm_password: 'password1234' },
    })
    expect(weak.status).toBe(400)
    const set = await anon.request('/password/reset', {
      form: { token: field(html, 'token'), new_password: NEW, confirm_password: NEW },
    })
    expect(set.status).toBe(200)
    expect((await server.container.users.login('inv@example.com', NEW)).ok).toBe(true)
    expect((await server.container.users.findByEmail('inv@example.com'))!.emailVerified).toBe(true)
    // single use
    expect((await anon.request(link)).status).toBe(400)
    expect(
      (
        await anon.request('/password/reset', {
          form: { token: field(html, 'token'), new_password: PASSWORD, confirm_password: PASSWORD },
        })
      ).status,
    ).toBe(400)

    await server.container.audit.flush()
    const inv = (await server.container.users.findByEmail('inv@example.com'))!
    const audit = server.container.queries.audit
    expect((await audit.list({ action: 'user.invitation_sent' })).some((e) => e.target === inv.id)).toBe(true)
    expect((await audit.list({ action: 'user.invitation_accepted' })).some((e) => e.target === inv.id)).toBe(true)
    // `invite: false` and re-applying the file send nothing more.
    const { doc } = await validateDocument(server.container, { users: [{ email: 'inv@example.com', name: 'Invited' }] })
    await applyDocument(server.container, doc!)
    await server.container.mail.drain()
    expect(count('inv@example.com', 'You are invited to Acme ID')).toBe(1)
    expect(mx.messages.some((m) => (m.to as { text?: string }).text === 'quiet@example.com')).toBe(false)
    // choosing the first password is not a "password changed" notice
    expect(count('inv@example.com', 'Your Acme ID password was changed')).toBe(0)
  })

  it('an invitation is refused next to a password in the import file', async () => {
    const { problems } = await validateDocument(server.container, {
      users: [{ email: 'x@example.com', password: PASSWORD, invite: true }],
    })
    expect(problems.map((p) => p.message).join(' ')).toContain('an invitation is for a user without a password')
  })
})

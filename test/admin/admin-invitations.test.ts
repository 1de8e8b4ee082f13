import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { linkIn, startSmtp, type TestSmtp } from '../helpers/smtp.ts'
import { CALLBACK, completeToCallback, idTokenClaims, startAuth, submit } from '../helpers/strong-login.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'

/**
 * The admin API's invitation (issue 12 §1, issue 14 §8) over real HTTP with a real SMTP server:
 * the link returned once to the administrator is the one mailed to the user, a single-use
 * set-password link (/password/reset); following it sets the password and verifies the address,
 * the user signs in, and the link is refused the second time.
 */
const PASSWORD = 'amber lantern over a quiet bay'

describeOnBackends('admin-invitations.test.ts', 'admin invitations over HTTP', ({ kind, redisUrl }) => {
  let server: TestServer
  let mx: TestSmtp
  let web: oidc.Configuration
  let root: string
  let helpdesk: string

  beforeAll(async () => {
    mx = await startSmtp()
    server = await startTestServer({
      kind,
      redisUrl,
      env: {
        SMTP_URL: mx.url,
        SMTP_REQUIRE_STARTTLS: 'false',
        MAIL_FROM: 'Acme ID <id@acme.example>',
        PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42',
      },
    })
    await ensureAdmin(server.container)
    await ensureSystemPolicyStore(server.container)
    await registerServiceClients(server, [
      { id: 'root', scope: 'admin' },
      { id: 'hd', scope: 'admin' },
    ])
    const admin = adminServices(server.container)
    await admin.authority.grant({ kind: 'cli' }, { type: 'client', id: 'root' }, 'admin')
    await admin.authority.grant({ kind: 'cli' }, { type: 'client', id: 'hd' }, 'helpdesk')
    root = await apiToken(server, 'root', 'admin')
    helpdesk = await apiToken(server, 'hd', 'admin')
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
  }, 180_000)
  afterAll(async () => {
    await server?.close()
    await mx?.close()
  })

  async function setPassword(link: URL | string, password: string) {
    const ua = new UserAgent(server.url)
    const form = await ua.request(link)
    const html = await form.text()
    if (form.status !== 200) return { status: form.status, html }
    const res = await ua.request(formAction(html, '/password/reset'), {
      form: { token: field(html, 'token'), new_password: password, confirm_password: password },
    })
    return { status: res.status, html: await res.text() }
  }

  it('admin creates a user with an invitation: the link shown once is the one mailed; it sets a password, verifies the address, and works once', async () => {
    const created = await call(server, 'POST', '/admin/v1/users', root, {
      email: 'Ivy@Example.com',
      name: 'Ivy',
      invite: true,
    })
    expect(created.status, JSON.stringify(created.body)).toBe(201)
    expect(created.body.password).toBeUndefined()
    expect(created.body.user).toMatchObject({
      email: 'ivy@example.com',
      hasPassword: false,
      emailVerified: false,
      mustVerifyEmail: false,
    })
    const url = created.body.invitation.url as string
    expect(url).toMatch(new RegExp(`^${server.url}/password/reset\\?token=[\\w-]{43}$`))
    expect(new Date(created.body.invitation.expiresAt).getTime()).toBeGreaterThan(Date.now() + 6 * 86400_000)

    const mail = await mx.waitFor(
      (m) => m.text?.includes('/password/reset?token=') === true && JSON.stringify(m.to).includes('ivy@example.com'),
    )
    expect(linkIn(mail, '/password/reset').href).toBe(url)
    // no dead page: the old /invite/ path is not where the link goes
    expect(url).not.toContain('/invite/')

    const weak = await setPassword(url, 'password1234')
    expect(weak.status).toBe(400) // a refused password leaves the link usable
    const done = await setPassword(url, PASSWORD)
    expect(done.status, done.html).toBe(200)
    const ivy = (await server.container.users.findByEmail('ivy@example.com'))!
    expect(ivy.emailVerified).toBe(true)

    const ua = new UserAgent(server.url)
    const start = await startAuth(ua, web)
    const posted = await submit(ua, start.html, '/login', { email: 'ivy@example.com', password: PASSWORD })
    expect(posted.status).toBe(303)
    const claims = await idTokenClaims(web, await completeToCallback(ua, server.url, posted), start.verifier)
    expect(claims.sub).toBe(ivy.id)

    const again = await setPassword(url, 'another fine long passphrase')
    expect(again.status).toBe(400)
    expect(again.html).toContain('does not work any more')

    await server.container.audit.flush()
    const sent = await server.container.queries.audit.list({ action: 'user.invitation_sent' })
    expect(sent.find((e) => e.target === ivy.id)).toMatchObject({ actor: 'client:root' })
    const accepted = await server.container.queries.audit.list({ action: 'user.invitation_accepted' })
    expect(accepted.find((e) => e.target === ivy.id)).toBeTruthy()
    const token = new URL(url).searchParams.get('token')!
    expect(JSON.stringify([...sent, ...accepted])).not.toContain(token)
  })

  it('a role that may not create users gets no invitation; hostile input is a 400; no mail leaves', async () => {
    const before = mx.messages.length
    expect(
      (await call(server, 'POST', '/admin/v1/users', helpdesk, { email: 'nope@example.com', invite: true })).status,
    ).toBe(403)
    expect(
      (await call(server, 'POST', '/admin/v1/users', undefined, { email: 'nope@example.com', invite: true })).status,
    ).toBe(401)
    const both = await call(server, 'POST', '/admin/v1/users', root, {
      email: 'x@example.com',
      invite: true,
      password: PASSWORD,
    })
    expect(both.status).toBe(400)
    expect(
      (await call(server, 'POST', '/admin/v1/users', root, { email: 'x\u0000@example.com', invite: true })).status,
    ).toBe(400)
    expect(await server.container.users.findByEmail('nope@example.com')).toBeNull()
    await new Promise((r) => setTimeout(r, 300))
    expect(mx.messages.length).toBe(before)
  })

  it('the retired /invite/<token> path serves nothing; deleting an invited user retires the link', async () => {
    expect((await new UserAgent(server.url).request(`/invite/${'A'.repeat(43)}`)).status).toBe(404)
    const created = await call(server, 'POST', '/admin/v1/users', root, { email: 'gone@example.com', invite: true })
    expect(created.status).toBe(201)
    expect((await call(server, 'DELETE', `/admin/v1/users/${created.body.user.id}`, root)).status).toBe(200)
    expect(await server.container.db.emailToken.count({ where: { userId: created.body.user.id } })).toBe(0)
    expect((await setPassword(created.body.invitation.url, PASSWORD)).status).toBe(400)
  })
})

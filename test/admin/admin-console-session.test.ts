import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { field, formAction, UserAgent } from '../helpers/user-agent.ts'

/**
 * The admin console's caller (issue 12 §2, §3) at the HTTP level: the first-party console client
 * (code + PKCE, no consent) gives a user token that carries `admin` only for holders of an admin
 * role in the `system` store, is accepted by the admin API alone, and is decided there by the
 * PDP; the console session cookie and its forms (CSRF, cross-site guard). MFA is switched off
 * here (ADMIN_CONSOLE_REQUIRE_MFA=false); the browser suite signs in with it.
 */
const PASSWORD = 'quiet river lamp orbit'

describeOnBackends('admin-console-session.test.ts', 'admin console session and its user tokens', (backend) =>
  describe('', { timeout: 60_000 }, () => {
    let server: TestServer
    const redirect = () => `${server.url}/admin/callback`

    beforeAll(async () => {
      server = await startTestServer({
        kind: backend.kind,
        redisUrl: backend.redisUrl,
        env: { ADMIN_CONSOLE_REQUIRE_MFA: 'false', LOGIN_FAILURE_DELAY_MS: '0' },
      })
      const c = server.container
      for (const email of ['boss@example.com', 'desk@example.com', 'plain@example.com', 'aud@example.com'])
        await c.users.create({ email, password: PASSWORD })
      const boss = (await c.users.findByEmail('boss@example.com'))!
      await ensureSystemPolicyStore(c, boss)
      const admin = adminServices(c)
      await admin.authority.grant({ kind: 'cli' }, { type: 'user', id: boss.id }, 'admin')
      await admin.authority.grant(
        { kind: 'cli' },
        { type: 'user', id: (await c.users.findByEmail('desk@example.com'))!.id },
        'helpdesk',
      )
      await admin.authority.grant(
        { kind: 'cli' },
        { type: 'user', id: (await c.users.findByEmail('aud@example.com'))!.id },
        'auditor',
      )
    }, 60_000)
    afterAll(async () => server?.close())

    /** Signs in on our pages and stops at the console's redirect_uri. */
    async function toCallback(ua: UserAgent, authUrl: string, email: string) {
      const atCallback = (u: URL) => u.pathname === '/admin/callback'
      let hop = await ua.follow(await ua.request(authUrl), atCallback)
      for (let i = 0; i < 4 && hop.res; i++) {
        const html = await hop.res.text()
        if (!html.includes('name="password"'))
          throw new Error(`expected the login page, got ${hop.res.status}: ${html.slice(0, 300)}`)
        hop = await ua.follow(
          await ua.request(formAction(html, '/login'), {
            form: { csrf: field(html, 'csrf'), email, password: PASSWORD },
          }),
          atCallback,
        )
      }
      if (hop.res) throw new Error('did not reach the callback')
      return hop.url
    }

    /** A console token, obtained like the console does (public client, PKCE). */
    async function consoleToken(email: string) {
      const ua = new UserAgent(server.url)
      const verifier = oidc.randomPKCECodeVerifier()
      const url = new URL('/auth', server.url)
      url.search = new URLSearchParams({
        client_id: 'portcullis-console',
        response_type: 'code',
        redirect_uri: redirect(),
        scope: 'openid email admin',
        state: 'st',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      }).toString()
      const cb = await toCallback(ua, url.toString(), email)
      const res = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: cb.searchParams.get('code')!,
          redirect_uri: redirect(),
          code_verifier: verifier,
          client_id: 'portcullis-console',
        }),
      })
      expect(res.status).toBe(200)
      return (await res.json()) as { access_token: string; scope?: string }
    }
    const api = (token: string, path: string, init: RequestInit = {}) =>
      fetch(`${server.url}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          ...(init.headers as Record<string, string>),
        },
      })

    it("an admin's console token administers through the admin API, and nothing else", async () => {
      const t = await consoleToken('boss@example.com')
      expect(t.scope?.split(' ')).toContain('admin')
      expect((await api(t.access_token, '/admin/v1/users?limit=2')).status).toBe(200)
      // `admin` in a console token is not the all-scopes `admin` of a client or API key
      for (const [path, init] of [
        ['/authz/v1/stores', {}],
        ['/audit/v1/checkpoints', { method: 'POST', body: '{}' }],
        ['/apikeys/v1/keys', {}],
        ['/metrics', {}],
      ] as const) {
        const res = await api(t.access_token, path, init)
        expect(res.status, path).toBe(403)
        expect(((await res.json()) as { error: string }).error, path).toBe('insufficient_scope')
      }
    })

    it('a helpdesk console token may unlock but not read users; a user without an admin role gets no admin scope', async () => {
      const desk = await consoleToken('desk@example.com')
      expect(desk.scope?.split(' ')).toContain('admin')
      const read = await api(desk.access_token, '/admin/v1/users')
      expect(read.status).toBe(403)
      expect(((await read.json()) as { error: string }).error).toBe('forbidden')
      expect(
        (await api(desk.access_token, '/admin/v1/users/plain@example.com/unlock', { method: 'POST' })).status,
      ).toBe(200)
      const plain = await consoleToken('plain@example.com')
      expect(plain.scope ?? '').not.toContain('admin')
      const refused = await api(plain.access_token, '/admin/v1/users')
      expect(refused.status).toBe(403)
      expect(((await refused.json()) as { error: string }).error).toBe('insufficient_scope')
      // a disabled administrator's token stops at once (the PDP checks the user is live)
      const c = server.container
      const boss2 = await c.users.create({ email: 'boss2@example.com', password: PASSWORD })
      await adminServices(c).authority.grant({ kind: 'cli' }, { type: 'user', id: boss2.id }, 'admin')
      const t2 = await consoleToken('boss2@example.com')
      expect((await api(t2.access_token, '/admin/v1/users?limit=1')).status).toBe(200)
      await c.accounts.disable('boss2@example.com', 'test')
      expect((await api(t2.access_token, '/admin/v1/users?limit=1')).status).toBe(403)
    })

    it('the console: sign-in sets an HttpOnly SameSite=Strict session cookie; forms need the CSRF token and our origin', async () => {
      const ua = new UserAgent(server.url)
      const first = await ua.request('/admin/users')
      expect(first.status).toBe(302)
      expect(first.headers.get('location')).toBe('/admin/login')
      const login = await ua.request('/admin/login')
      expect(login.headers.get('set-cookie')).toMatch(/portcullis_console_login=.*httponly/i)
      const auth = new URL(login.headers.get('location')!)
      expect(auth.searchParams.get('code_challenge_method')).toBe('S256')
      expect(auth.searchParams.get('client_id')).toBe('portcullis-console')
      const cb = await toCallback(ua, auth.toString(), 'boss@example.com')
      const done = await ua.request(cb)
      expect(done.status).toBe(302)
      expect(done.headers.get('location')).toBe('/admin')
      const cookie = done.headers.getSetCookie().find((c) => c.startsWith('portcullis_console='))!
      expect(cookie).toMatch(/httponly/i)
      expect(cookie).toMatch(/samesite=strict/i)
      const dash = await ua.request('/admin')
      expect(dash.status).toBe(200)
      expect(dash.headers.get('cache-control')).toBe('no-store')
      const html = await dash.text()
      expect(html).toContain('<main id="main"')
      const csrf = field(html, 'csrf')
      // the callback cannot be replayed
      expect((await ua.request(cb)).status).toBe(403)
      // no CSRF token, or another site: refused, the session lives on
      expect((await ua.request('/admin/logout', { form: { csrf: 'nope' } })).status).toBe(403)
      expect(
        (await ua.request('/admin/logout', { form: { csrf }, headers: { origin: 'https://evil.example' } })).status,
      ).toBe(403)
      expect((await ua.request('/admin')).status).toBe(200)
      // hostile input on a console form is a 4xx, never a 5xx
      const created = await ua.request('/admin/users', { form: { csrf, email: 'x'.repeat(5000), name: 'n' } })
      expect(created.status).toBe(400)
      expect(await created.text()).toContain('aria-invalid="true"')
      const out = await ua.request('/admin/logout', { form: { csrf } })
      expect(out.status).toBe(303)
      expect((await ua.request('/admin')).status).toBe(302)
    })

    it('the console pages act through the API: edit with a stale ETag is reported, delete is confirmed first, roles are granted', async () => {
      const ua = new UserAgent(server.url)
      const login = await ua.request('/admin/login')
      await ua.request(await toCallback(ua, login.headers.get('location')!, 'boss@example.com'))
      const c = server.container
      const target = await c.users.create({ email: 'temp@example.com', password: PASSWORD })
      const page = await (await ua.request(`/admin/users/${target.id}`)).text()
      const csrf = field(page, 'csrf')
      const etag = field(page, 'etag')
      // someone else edits in between: the console's write carries the old ETag and is refused
      await adminServices(c).users.update({ kind: 'cli' }, target.id, { name: 'Changed Elsewhere' })
      const stale = await ua.request(`/admin/users/${target.id}`, { form: { csrf, etag, name: 'Mine' } })
      expect(stale.status).toBe(412)
      expect(await stale.text()).toContain('Someone else changed this user')
      expect((await c.users.findById(target.id))!.name).toBe('Changed Elsewhere')
      // delete: a confirmation page first, then the deletion
      const confirm = await ua.request(`/admin/users/${target.id}/delete`)
      const confirmHtml = await confirm.text()
      expect(confirmHtml).toContain('Delete temp@example.com?')
      const del = await ua.request(formAction(confirmHtml, '/delete'), {
        form: { csrf, etag: field(confirmHtml, 'etag') },
      })
      expect(del.status).toBe(303)
      expect(await c.users.findById(target.id)).toBeNull()
      const list = await (await ua.request(del.headers.get('location')!)).text()
      expect(list).toContain('User deleted.')
      // a notice is never taken from the URL
      expect(await (await ua.request('/admin/users?notice=Call+555')).text()).not.toContain('Call 555')
      // roles: granted through the API (a new version of the system store)
      const granted = await ua.request('/admin/roles', {
        form: { csrf, email: 'plain@example.com', role: 'auditor', op: 'grant' },
      })
      expect(granted.status).toBe(303)
      const plain = (await c.users.findByEmail('plain@example.com'))!
      expect(await adminServices(c).authority.rolesOf({ type: 'user', id: plain.id })).toEqual(['auditor'])
      const bad = await ua.request('/admin/roles', {
        form: { csrf, email: 'nobody@nowhere.test', role: 'auditor', op: 'grant' },
      })
      expect(bad.status).toBe(404)
      expect(await bad.text()).toContain('aria-invalid="true"')
    })

    it('console tokens reach the newer admin routes (keys, audit, role requests); the PDP decides by role', async () => {
      const aud = (await consoleToken('aud@example.com')).access_token
      const desk = (await consoleToken('desk@example.com')).access_token
      expect((await api(aud, '/admin/v1/audit/events?limit=1')).status).toBe(200)
      expect((await api(aud, '/admin/v1/signing-keys')).status).toBe(200)
      const rotate = await api(aud, '/admin/v1/signing-keys/rotate', { method: 'POST' })
      expect(rotate.status).toBe(403)
      expect(((await rotate.json()) as { error: string }).error).toBe('forbidden')
      const refused = await api(desk, '/admin/v1/audit/events?limit=1')
      expect(refused.status).toBe(403)
      expect(((await refused.json()) as { error: string }).error).toBe('forbidden')
      // a wrong credential is a 401; hostile input a 400
      expect((await api('not-a-token', '/admin/v1/audit/events')).status).toBe(401)
      expect((await api(aud, '/admin/v1/audit/events?limit=abc')).status).toBe(400)
      // any operator files their own role request with their console token
      const filed = await api(desk, '/admin/v1/role-requests', {
        method: 'POST',
        body: JSON.stringify({ role: 'auditor', hours: 2, reason: 'incident 42' }),
      })
      expect(filed.status).toBe(201)
      expect(
        (await api(aud, '/admin/v1/access-reviews', { method: 'POST', body: JSON.stringify({ name: 'q4' }) })).status,
      ).toBe(403)
    })

    it('console pages for containment, policies and role requests: reasons required, stale versions reported, hostile input a 4xx', async () => {
      const ua = new UserAgent(server.url)
      const login = await ua.request('/admin/login')
      await ua.request(await toCallback(ua, login.headers.get('location')!, 'boss@example.com'))
      const c = server.container
      const target = await c.users.create({ email: 'suspect@example.com', password: PASSWORD })
      const detail = await (await ua.request(`/admin/users/${target.id}`)).text()
      expect(detail).toContain(`/admin/users/${target.id}/contain`)
      const csrf = field(detail, 'csrf')
      const confirm = await (await ua.request(`/admin/users/${target.id}/contain`)).text()
      expect(confirm).toContain('Contain this user?')
      const noReason = await ua.request(`/admin/users/${target.id}/contain`, { form: { csrf, reason: ' ' } })
      expect(noReason.status).toBe(400)
      expect(await noReason.text()).toContain('aria-invalid="true"')
      const nul = await ua.request(`/admin/users/${target.id}/contain`, { form: { csrf, reason: 'bad\u0000reason' } })
      expect(nul.status).toBe(400)
      expect((await c.users.findById(target.id))!.disabled).toBe(false)
      const done = await ua.request(`/admin/users/${target.id}/contain`, { form: { csrf, reason: 'phished password' } })
      expect(done.status).toBe(303)
      expect((await c.users.findById(target.id))!.disabled).toBe(true)
      expect(await (await ua.request(done.headers.get('location')!)).text()).toContain('Contained:')
      // a client: contained from its page too, and it can no longer get tokens
      const reg = await ua.request('/admin/clients', {
        form: {
          csrf,
          clientId: 'leaky',
          redirect_uris: 'https://leaky.example.com/cb',
          grant_types: 'authorization_code client_credentials',
          scope: 'openid',
        },
      })
      expect(reg.status).toBe(303)
      expect(await (await ua.request('/admin/clients/leaky')).text()).toContain('/admin/clients/leaky/contain')
      const contained = await ua.request('/admin/clients/leaky/contain', {
        form: { csrf, reason: 'secret pasted in a ticket' },
      })
      expect(contained.status).toBe(303)
      expect(await (await ua.request(contained.headers.get('location')!)).text()).toContain('Contained:')
      const apiToken = (await consoleToken('boss@example.com')).access_token
      expect(
        (
          await api(apiToken, '/admin/v1/clients/leaky/contain', {
            method: 'POST',
            body: JSON.stringify({ reason: 'x' }),
          })
        ).status,
      ).toBe(400)
      // policy store: a new version based on a stale one is a 412, the text is kept
      await c.authz.stores.create({ name: 'shop', model: 'acl.conf', policy: 'p, alice, book, read' }, 'test')
      expect(await (await ua.request('/admin/policies')).text()).toContain('/admin/policies/shop')
      const view = await (await ua.request('/admin/policies/shop')).text()
      expect(view).toContain('p, alice, book, read')
      const basedOn = field(view, 'etag')
      await c.authz.stores.change('shop', { add: [['p', 'bob', 'book', 'read']] }, 'someone else')
      const stale = await ua.request('/admin/policies/shop', {
        form: { csrf, etag: basedOn, policy: 'p, carol, book, read', reason: 'mine' },
      })
      expect(stale.status).toBe(412)
      expect(await stale.text()).toContain('p, carol, book, read')
      const fresh = field(await (await ua.request('/admin/policies/shop')).text(), 'etag')
      const saved = await ua.request('/admin/policies/shop', {
        form: { csrf, etag: fresh, policy: 'p, carol, book, read', reason: 'mine' },
      })
      expect(saved.status).toBe(303)
      expect((await c.authz.stores.current('shop')).lines).toEqual([['p', 'carol', 'book', 'read']])
      // role requests: bad hours is an inline 400
      const bad = await ua.request('/admin/role-requests', {
        form: { csrf, role: 'auditor', hours: 'lots', reason: 'x' },
      })
      expect(bad.status).toBe(400)
      const tooLong = await ua.request('/admin/role-requests', {
        form: { csrf, role: 'auditor', hours: '2', reason: 'r'.repeat(5000) },
      })
      expect(tooLong.status).toBe(400)
      // signing keys: rotate needs a confirmation form post with the CSRF token
      expect((await ua.request('/admin/signing-keys/rotate', { form: { csrf: 'nope' } })).status).toBe(403)
      const rotated = await ua.request('/admin/signing-keys/rotate', { form: { csrf } })
      expect(rotated.status).toBe(303)
      expect(await (await ua.request('/admin/signing-keys')).text()).toContain('Signing keys rotated')
    })
  }),
)

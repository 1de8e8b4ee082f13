import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import type { AdminRole } from '../../src/admin/authority.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The admin API (/admin/v1, issue 12 §1) over HTTP: service accounts (client credentials with
 * the `admin` scope) and API keys act with the admin roles the `system` store grants them.
 */
describeOnBackends('admin-api.test.ts', 'the admin API', ({ kind, redisUrl }) => {
  let server: TestServer
  const tokens: Record<string, string> = {}
  const CLIENT_META = {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'authz:check',
  }
  const ELSEWHERE = { 'x-forwarded-for': '203.0.113.9' }

  beforeAll(async () => {
    server = await startTestServer({
      kind,
      redisUrl,
      env: {
        PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42',
        TRUSTED_PROXIES: '127.0.0.1, ::1',
        MANAGEMENT_ALLOWED_IPS: '127.0.0.0/8, ::1/128',
      },
    })
    await ensureAdmin(server.container)
    await ensureSystemPolicyStore(server.container)
    const roles: Record<string, AdminRole | undefined> = {
      root: 'admin',
      um: 'user-manager',
      cm: 'client-manager',
      hd: 'helpdesk',
      aud: 'auditor',
      nobody: undefined,
    }
    await registerServiceClients(server, [
      ...Object.keys(roles).map((id) => ({ id, scope: 'admin' })),
      { id: 'pep', scope: 'authz:check' },
    ])
    const admin = adminServices(server.container)
    for (const [id, role] of Object.entries(roles)) {
      if (role) await admin.authority.grant({ kind: 'cli' }, { type: 'client', id }, role)
      tokens[id] = await apiToken(server, id, 'admin')
    }
    tokens.pep = await apiToken(server, 'pep', 'authz:check')
  }, 180_000)
  afterAll(async () => server?.close())

  const api = (who: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
    call(server, method, `/admin/v1${path}`, tokens[who] ?? who, body, headers)
  const newUser = async (email: string, extra: Record<string, unknown> = {}) => {
    const r = await api('root', 'POST', '/users', { email, ...extra })
    expect(r.status, JSON.stringify(r.body)).toBe(201)
    return r.body as { user: { id: string; etag: string }; password?: string; invitation?: { url: string } }
  }

  describe('users', () => {
    it('creates, searches, reads, updates (ETag / If-Match) and deletes a user', async () => {
      const created = await newUser('ada@example.com', { name: 'Ada', roles: ['reader'] })
      expect(created.password).toEqual(expect.any(String)) // generated, shown once
      const invited = await newUser('grace@example.com', { invite: true })
      expect(invited.invitation?.url).toMatch(/\/password\/reset\?token=[\w-]{43}$/)
      expect(invited.password).toBeUndefined()

      const found = await api('root', 'GET', '/users?email=ada%40')
      expect(found.status).toBe(200)
      expect(found.body.items.map((u: { email: string }) => u.email)).toEqual(['ada@example.com'])
      expect(found.body.items[0]).not.toHaveProperty('passwordHash')
      expect((await api('root', 'GET', '/users?role=reader')).body.items.map((u: { id: string }) => u.id)).toEqual([
        created.user.id,
      ])

      const read = await api('root', 'GET', `/users/${created.user.id}`)
      expect(read.status).toBe(200)
      expect(read.body).toMatchObject({
        email: 'ada@example.com',
        name: 'Ada',
        mustChangePassword: true,
        adminRoles: [],
      })
      const etag = read.headers.get('etag')!
      expect(etag).toBe(read.body.etag)

      const patched = await api(
        'root',
        'PATCH',
        `/users/${created.user.id}`,
        { name: 'Ada L.', attributes: { team: 'engines' } },
        { 'if-match': etag },
      )
      expect(patched.status, JSON.stringify(patched.body)).toBe(200)
      expect(patched.body).toMatchObject({ name: 'Ada L.', attributes: { team: 'engines' } })
      expect(patched.headers.get('etag')).not.toBe(etag)
      expect((await api('root', 'GET', '/users?attribute=team%3Dengines')).body.items).toHaveLength(1)

      // a second admin holding the old ETag cannot silently overwrite, nor delete
      const stale = await api(
        'root',
        'PATCH',
        `/users/${created.user.id}`,
        { name: 'Someone else' },
        { 'if-match': etag },
      )
      expect(stale.status).toBe(412)
      expect(stale.body.error).toBe('precondition_failed')
      expect((await api('root', 'DELETE', `/users/${created.user.id}`, undefined, { 'if-match': etag })).status).toBe(
        412,
      )
      expect((await api('root', 'GET', `/users/${created.user.id}`)).body.name).toBe('Ada L.')

      const gone = await api('root', 'DELETE', `/users/${created.user.id}`, undefined, {
        'if-match': patched.headers.get('etag')!,
      })
      expect(gone.status).toBe(200)
      expect(gone.body).toMatchObject({ sessionsEnded: 0, apiKeysRevoked: [], grantsRevoked: 0 })
      expect((await api('root', 'GET', `/users/${created.user.id}`)).status).toBe(404)
      expect(await server.container.users.findById(created.user.id)).toBeNull()
      // each change is an audit event naming the service account, with the changed fields
      const events = (await server.container.audit.list({ actor: 'client:root', limit: 1000 })).filter(
        (e) => e.target === created.user.id,
      )
      const actions = events.filter((e) => e.actor === 'client:root').map((e) => e.action)
      expect(actions).toEqual(expect.arrayContaining(['user.created', 'user.updated', 'user.deleted']))
      const update = events.find((e) => e.action === 'user.updated')!
      expect(update.details).toMatchObject({ before: { name: 'Ada' }, after: { name: 'Ada L.' } })
    })

    it('disables, enables, unlocks, resets MFA and password, lists and ends sessions', async () => {
      const { user } = await newUser('linus@example.com')
      const { record } = await server.container.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: '1' })
      await server.container.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: '1' })

      const sessions = await api('um', 'GET', `/users/${user.id}/sessions`)
      expect(sessions.status).toBe(200)
      expect(sessions.body.items.map((s: { id: string }) => s.id)).toContain(record.id)
      expect(sessions.body.items).toHaveLength(2)
      expect((await api('um', 'DELETE', `/users/${user.id}/sessions/${record.id}`)).body).toEqual({ ended: 1 })
      expect((await api('um', 'DELETE', `/users/${user.id}/sessions/${record.id}`)).status).toBe(404) // already ended
      expect((await api('um', 'GET', `/users/${user.id}/sessions`)).body.items).toHaveLength(1)

      const off = await api('um', 'POST', `/users/${user.id}/disable`)
      expect(off.status).toBe(200)
      expect(off.body).toMatchObject({ changed: true, sessionsEnded: 1, user: { disabled: true } })
      expect((await api('um', 'GET', '/users?status=disabled')).body.items.map((u: { id: string }) => u.id)).toContain(
        user.id,
      )
      expect((await api('um', 'POST', `/users/${user.id}/enable`)).body).toMatchObject({
        changed: true,
        user: { disabled: false },
      })

      expect((await api('hd', 'POST', `/users/${user.id}/unlock`)).status).toBe(200)
      expect((await api('hd', 'POST', `/users/${user.id}/reset-mfa`)).body).toEqual({ factorsRemoved: 0 })
      const reset = await api('hd', 'POST', `/users/${user.id}/reset-password`)
      expect(reset.status).toBe(200)
      expect(reset.body.password).toEqual(expect.any(String))
      expect((await server.container.users.findById(user.id))!.mustChangePassword).toBe(true)
    })

    it('pages through users with a cursor while others are inserted: no duplicates, no gaps', async () => {
      const before: string[] = []
      for (let i = 0; i < 17; i++)
        before.push((await newUser(`page-${String(i).padStart(2, '0')}@example.com`)).user.id)
      const seen: string[] = []
      let cursor: string | undefined
      let inserted = 0
      do {
        const [page] = await Promise.all([
          api('aud', 'GET', `/users?email=page-&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
          newUser(`page-new-${inserted++}@example.com`),
        ])
        expect(page.status).toBe(200)
        seen.push(...page.body.items.map((u: { id: string }) => u.id))
        cursor = page.body.nextCursor
      } while (cursor)
      expect(new Set(seen).size).toBe(seen.length)
      expect(before.every((id) => seen.includes(id))).toBe(true)
      expect(seen.filter((id) => before.includes(id))).toEqual(before) // in creation order
      expect((await api('aud', 'GET', '/users?cursor=bm90LWEtY3Vyc29y')).body.error).toBe('invalid_cursor')
    })
  })

  describe('clients', () => {
    it('creates (secret once), lists, reads, updates, rotates the secret and deletes a client', async () => {
      const created = await api('cm', 'POST', '/clients', { clientId: 'billing-job', metadata: CLIENT_META })
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      const secret = created.body.secret as string
      expect(secret).toEqual(expect.any(String))
      expect(created.body.client).toMatchObject({ clientId: 'billing-job', hasSecret: true })
      expect(JSON.stringify(created.body.client)).not.toContain(secret)
      const token = async (s: string) =>
        fetch(`${server.url}/token`, {
          method: 'POST',
          headers: {
            authorization: `Basic ${Buffer.from(`billing-job:${s}`).toString('base64')}`,
            'content-type': 'application/x-www-form-urlencoded',
          },
          body: 'grant_type=client_credentials',
        })
      expect((await token(secret)).status).toBe(200)

      const listed = await api('cm', 'GET', '/clients?id=billing&grantType=client_credentials')
      expect(listed.body.items.map((c: { clientId: string }) => c.clientId)).toEqual(['billing-job'])
      const read = await api('aud', 'GET', '/clients/billing-job')
      expect(read.status).toBe(200)
      expect(JSON.stringify(read.body)).not.toContain(secret)
      const etag = read.headers.get('etag')!

      const patched = await api('cm', 'PATCH', '/clients/billing-job', { client_name: 'Billing' }, { 'if-match': etag })
      expect(patched.status, JSON.stringify(patched.body)).toBe(200)
      expect(patched.body.metadata.client_name).toBe('Billing')
      expect(
        (await api('cm', 'PATCH', '/clients/billing-job', { client_name: 'Other' }, { 'if-match': etag })).status,
      ).toBe(412)
      expect((await api('cm', 'DELETE', '/clients/billing-job', undefined, { 'if-match': etag })).status).toBe(412)

      const rotated = await api('cm', 'POST', '/clients/billing-job/rotate-secret')
      expect(rotated.status).toBe(200)
      expect((await token(secret)).status).toBe(401)
      expect((await token(rotated.body.secret)).status).toBe(200)

      expect((await api('cm', 'DELETE', '/clients/billing-job')).status).toBe(200)
      expect((await api('cm', 'GET', '/clients/billing-job')).status).toBe(404)
      expect((await token(rotated.body.secret)).status).toBe(401)
    })
  })

  it('grants and revokes admin roles; the grant takes effect on the next call', async () => {
    expect((await api('nobody', 'GET', '/users')).status).toBe(403)
    const granted = await api('root', 'POST', '/roles/auditor/members', {
      member: 'client:nobody',
      reason: 'quarterly review',
    })
    expect(granted.status, JSON.stringify(granted.body)).toBe(200)
    expect(granted.body).toEqual({ changed: true })
    expect((await api('nobody', 'GET', '/users')).status).toBe(200)
    expect((await api('root', 'GET', '/clients/nobody')).body.adminRoles).toEqual(['auditor'])
    expect((await api('root', 'DELETE', '/roles/auditor/members/client:nobody')).body).toEqual({ changed: true })
    expect((await api('nobody', 'GET', '/users')).status).toBe(403)
    expect((await api('root', 'POST', '/roles/auditor/members', { member: 'user:nobody@example.com' })).status).toBe(
      404,
    )
    expect((await api('root', 'POST', '/roles/superuser/members', { member: 'client:nobody' })).status).toBe(400)
  })

  it("acts for an API key's owner with the owner's admin roles, bounded by the key's scopes", async () => {
    const { user } = await newUser('keyholder@example.com', { roles: ['admin'] }) // user role: may hold the admin scope
    await adminServices(server.container).authority.grant({ kind: 'cli' }, { type: 'user', id: user.id }, 'auditor')
    const issued = await call(server, 'POST', '/apikeys/v1/keys', tokens.root, {
      name: 'reports',
      owner: `user:${user.id}`,
      scopes: ['admin'],
    })
    expect(issued.status, JSON.stringify(issued.body)).toBe(201)
    if (issued.body.status !== 'active')
      expect((await call(server, 'POST', `/apikeys/v1/keys/${issued.body.id}/approve`, tokens.root, {})).status).toBe(
        200,
      )
    const key = issued.body.key as string
    expect((await api(key, 'GET', '/users')).status).toBe(200)
    const write = await api(key, 'POST', '/users', { email: 'by-key@example.com' })
    expect(write.status).toBe(403)
    expect(write.body.error).toBe('forbidden')
  })

  it('refuses without a credential or with a bad one (401), and outside the management network (403)', async () => {
    for (const [method, path] of [
      ['GET', '/users'],
      ['POST', '/users'],
      ['GET', '/clients/root'],
      ['POST', '/clients/root/rotate-secret'],
      ['DELETE', '/users/x'],
    ]) {
      const anonymous = await call(server, method!, `/admin/v1${path}`)
      expect(anonymous.status, path).toBe(401)
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="portcullis"/)
      expect((await call(server, method!, `/admin/v1${path}`, `${tokens.root!.slice(0, -4)}AAAA`)).status).toBe(401)
      expect((await call(server, method!, `/admin/v1${path}`, 'pcs_not_a_real_key')).status).toBe(401)
    }
    const outside = await api('root', 'GET', '/users', undefined, ELSEWHERE)
    expect(outside.status).toBe(403)
    expect(outside.body.error).toBe('ip_not_allowed')
  })

  it('refuses each role what it must not do (403), and does not change anything', async () => {
    const { user } = await newUser('target@example.com')
    const cases: [who: string, method: string, path: string, body?: unknown][] = [
      ['hd', 'POST', '/clients', { clientId: 'hd-client', metadata: CLIENT_META }],
      ['hd', 'GET', '/clients'],
      ['hd', 'GET', '/clients/root'],
      ['hd', 'GET', '/users'],
      ['hd', 'PATCH', `/users/${user.id}`, { name: 'x' }],
      ['hd', 'POST', `/users/${user.id}/disable`],
      ['hd', 'DELETE', `/users/${user.id}`],
      ['aud', 'POST', '/users', { email: 'aud-made@example.com' }],
      ['aud', 'PATCH', `/users/${user.id}`, { name: 'x' }],
      ['aud', 'DELETE', `/users/${user.id}`],
      ['aud', 'POST', `/users/${user.id}/reset-password`],
      ['aud', 'PATCH', '/clients/root', { client_name: 'x' }],
      ['aud', 'POST', '/clients/root/rotate-secret'],
      ['aud', 'POST', '/roles/admin/members', { member: 'client:aud' }],
      ['um', 'GET', '/clients'],
      ['um', 'POST', '/clients', { clientId: 'um-client', metadata: CLIENT_META }],
      ['um', 'DELETE', '/clients/pep'],
      ['um', 'POST', '/roles/admin/members', { member: 'client:um' }],
      ['cm', 'POST', '/users', { email: 'cm-made@example.com' }],
      ['cm', 'GET', `/users/${user.id}`],
      ['nobody', 'GET', '/users'],
    ]
    for (const [who, method, path, body] of cases) {
      const r = await api(who, method, path, body)
      expect(r.status, `${who} ${method} ${path}`).toBe(403)
      expect(r.body.error, `${who} ${method} ${path}`).toBe('forbidden')
    }
    // the token lacks the admin scope altogether
    const pep = await api('pep', 'GET', '/users')
    expect(pep.status).toBe(403)
    expect(pep.body.error).toBe('insufficient_scope')
    // nothing changed
    expect((await server.container.users.findById(user.id))!.name).toBeNull()
    expect(await server.container.clients.find('hd-client')).toBeFalsy()
    expect(await server.container.users.findByEmail('aud-made@example.com')).toBeNull()
    expect((await api('root', 'GET', '/clients/um')).body.adminRoles).toEqual(['user-manager'])
  })

  it('answers 404 for unknown users, clients and sessions', async () => {
    for (const [method, path, body] of [
      ['GET', '/users/no-such-user'],
      ['PATCH', '/users/no-such-user', { name: 'x' }],
      ['DELETE', '/users/no-such-user'],
      ['POST', '/users/no-such-user/unlock'],
      ['GET', '/users/no-such-user/sessions'],
      ['DELETE', '/users/no-such-user/sessions/abc'],
      ['GET', '/clients/no-such-client'],
      ['PATCH', '/clients/no-such-client', { client_name: 'x' }],
      ['DELETE', '/clients/no-such-client'],
      ['POST', '/clients/no-such-client/rotate-secret'],
    ] as [string, string, unknown?][]) {
      const r = await api('root', method, path, body)
      expect(r.status, `${method} ${path}`).toBe(404)
      expect(r.body.error).toBe('not_found')
    }
  })

  it('lists every bad field in one 400, and never answers hostile input with a 5xx', async () => {
    const r = await api('root', 'POST', '/users', {
      email: 'not-an-email',
      roles: 'reader',
      invite: 'yes',
      colour: 'blue',
    })
    expect(r.status).toBe(400)
    const fields = (r.body.details.fields as { field: string }[]).map((f) => f.field).sort()
    expect(fields).toEqual(['colour', 'email', 'invite', 'roles'])
    const q = await api('root', 'GET', '/users?limit=0&status=asleep')
    expect(q.status).toBe(400)
    expect((q.body.details.fields as { field: string }[]).map((f) => f.field).sort()).toEqual(['limit', 'status'])
    const client = await api('root', 'POST', '/clients', { clientId: 'bad id!', metadata: { 'Not-Snake': 1 } })
    expect(client.status).toBe(400)
    expect((client.body.details.fields as { field: string }[]).length).toBeGreaterThanOrEqual(2)

    for (const [method, path, body] of [
      ['POST', '/users', { email: 'nul@example.com', name: 'a\u0000b' }],
      ['GET', '/users?email=%00'],
      ['GET', '/users/%00'],
      ['PATCH', '/clients/root', { client_name: 'x\u0000' }],
      ['POST', '/users', '{"email": "broken'],
    ] as [string, string, unknown?][]) {
      const h = await api('root', method, path, body)
      expect(h.status, `${method} ${path}`).toBe(400)
    }
    expect(await server.container.users.findByEmail('nul@example.com')).toBeNull()
    // a password the policy refuses is a 400 naming the field, the user is not created
    const weak = await api('root', 'POST', '/users', { email: 'weak@example.com', password: 'abc' })
    expect(weak.status).toBe(400)
    expect(weak.body.error).toBe('invalid_request')
    expect(weak.body.details.fields.map((f: { field: string }) => f.field)).toContain('password')
    // metadata oidc-provider refuses: the same 400 shape, nothing registered
    const refused = await api('root', 'POST', '/clients', {
      clientId: 'odd',
      metadata: { ...CLIENT_META, token_endpoint_auth_method: 'carrier_pigeon' },
    })
    expect(refused.status).toBe(400)
    expect(refused.body).toMatchObject({
      error: 'invalid_request',
      details: { fields: [expect.objectContaining({ field: 'metadata' })] },
    })
    expect(await server.container.clients.find('odd')).toBeFalsy()
    expect(await server.container.users.findByEmail('weak@example.com')).toBeNull()
  })
})

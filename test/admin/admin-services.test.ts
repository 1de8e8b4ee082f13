import { afterAll, beforeAll, expect, it } from 'vitest'
import type { AdminCaller } from '../../src/admin/authority.ts'
import { adminServices, ensureSystemPolicyStore, type AdminServices } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import type { Container } from '../../src/container.ts'
import { verifyPassword } from '../../src/identity/passwords.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { testContainer } from '../helpers/container.ts'

/**
 * The admin services (issue 12 §1): what each action changes, its audit record (before/after,
 * never a secret), ETag/If-Match, pagination under concurrent inserts, and what deleting a
 * user does to their API keys, sessions and grants.
 */
const CLI = { kind: 'cli' } as const
const PASSWORD = 'lantern over a frozen harbour'

describeOnBackends('admin-services.test.ts', 'admin services', ({ kind }) => {
  let c: Container
  let admin: AdminServices
  let dispose: () => Promise<void>
  let root: AdminCaller
  let helpdesk: AdminCaller

  const lastAudit = async (action: string) => (await c.queries.audit.list({ action, limit: 1 }))[0]

  beforeAll(async () => {
    const t = await testContainer(kind, { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' })
    c = t.c
    dispose = t.dispose
    await ensureAdmin(c)
    await ensureSystemPolicyStore(c)
    admin = adminServices(c)
    root = { kind: 'user', id: (await c.users.findByEmail('admin@localhost'))!.id }
    const { user } = await admin.users.create(root, { email: 'hd@example.com' })
    await admin.authority.grant(root, { type: 'user', id: user.id }, 'helpdesk')
    helpdesk = { kind: 'user', id: user.id }
  }, 120_000)
  afterAll(async () => dispose?.())

  it('creates a user with a given initial password that must be changed; the audit record holds no secret', async () => {
    const r = await admin.users.create(root, {
      email: 'Ann@Example.com',
      name: 'Ann',
      roles: ['reader'],
      attributes: { dept: 'ops' },
      password: PASSWORD,
    })
    expect(r).not.toHaveProperty('password') // it was given, not generated
    expect(r.user).toMatchObject({
      email: 'ann@example.com',
      mustChangePassword: true,
      hasPassword: true,
      roles: ['reader'],
    })
    expect(r.user).not.toHaveProperty('passwordHash')
    expect((await c.users.login('ann@example.com', PASSWORD)).ok).toBe(true)
    const audit = await lastAudit('user.created')
    expect(audit).toMatchObject({ actor: `user:${root.kind === 'user' && root.id}`, target: r.user.id })
    expect(JSON.stringify(audit)).not.toContain(PASSWORD)
    expect(audit!.details).toMatchObject({
      after: { email: 'ann@example.com', roles: ['reader'], attributes: { dept: 'ops' } },
      initial: 'password',
    })
  })

  it('refuses bad input listing every bad field, a weak password, and a taken email', async () => {
    const err = await admin.users.create(root, { email: 'not-an-email', roles: ['bad role!'], shoe: 1 }).catch((e) => e)
    expect(err).toMatchObject({ code: 'invalid_input', status: 400 })
    const fields = (err.details as string[]).map((d) => d.split(':')[0])
    expect(fields).toEqual(expect.arrayContaining(['email', 'roles.0', '(input)']))
    await expect(admin.users.create(root, { email: 'weak@example.com', password: 'password' })).rejects.toMatchObject({
      code: 'invalid_input',
      details: [expect.stringMatching(/^password: /)],
    })
    await expect(admin.users.create(root, { email: 'ANN@example.com' })).rejects.toMatchObject({
      code: 'user_exists',
      status: 409,
    })
    await expect(admin.users.create(helpdesk, { email: 'x@example.com' })).rejects.toMatchObject({
      code: 'forbidden',
      status: 403,
    })
  })

  it('invites a user: the mailed single-use set-password link, stored only hashed, that sets the first password', async () => {
    const r = await admin.users.create(root, { email: 'ivy@example.com', invite: true })
    expect(r.user.hasPassword).toBe(false)
    expect(r).not.toHaveProperty('password')
    const token = r.invitation!.url.match(/\/password\/reset\?token=([\w-]{43})$/)![1]!
    expect(r.invitation!.url.startsWith(`${c.config.PUBLIC_URL.replace(/\/$/, '')}/password/reset?token=`)).toBe(true)
    const stored = await c.db.emailToken.findMany({ where: { userId: r.user.id } })
    expect(stored).toHaveLength(1)
    expect(stored[0]).toMatchObject({ purpose: 'invitation' })
    expect(JSON.stringify(stored)).not.toContain(token)
    expect(await lastAudit('user.invitation_sent')).toMatchObject({
      actor: `user:${root.kind === 'user' && root.id}`,
      target: r.user.id,
    })
    // a refused password leaves the link usable
    const meta = { ip: '127.0.0.1' }
    expect(await c.passwordReset.complete(token, 'short', meta)).toMatchObject({
      ok: false,
      problems: expect.any(Array),
    })
    expect(await c.passwordReset.complete(token, PASSWORD, meta)).toMatchObject({ ok: true })
    expect((await c.users.login('ivy@example.com', PASSWORD)).ok).toBe(true)
    expect((await c.users.findByEmail('ivy@example.com'))!.emailVerified).toBe(true)
    expect(await c.passwordReset.complete(token, PASSWORD, meta)).toEqual({ ok: false, invalid: true })
  })

  it('updates with ETag / If-Match: a stale write is refused, the fresh one recorded with before/after', async () => {
    const { user } = await admin.users.create(root, { email: 'bo@example.com', name: 'Bo' })
    const read = await admin.users.read(root, user.id)
    const first = await admin.users.update(root, user.id, { name: 'Bo B', attributes: { team: 'blue' } }, read.etag)
    expect(first).toMatchObject({ name: 'Bo B', attributes: { team: 'blue' } })
    expect(first.etag).not.toBe(read.etag)
    // the second administrator still holds the old ETag
    await expect(admin.users.update(root, user.id, { name: 'Overwritten' }, read.etag)).rejects.toMatchObject({
      code: 'precondition_failed',
      status: 412,
    })
    expect((await c.users.findById(user.id))!.name).toBe('Bo B')
    expect((await lastAudit('user.updated'))!.details).toEqual({
      before: { name: 'Bo', attributes: {} },
      after: { name: 'Bo B', attributes: { team: 'blue' } },
    })
    await expect(admin.users.update(root, user.id, { email: 'x@y.z', roles: 'admin' })).rejects.toMatchObject({
      code: 'invalid_input',
      details: expect.arrayContaining([expect.stringMatching(/^roles: /), expect.stringMatching(/^\(input\): /)]),
    })
    // concurrent writers on the same ETag: exactly one wins
    const now = (await admin.users.read(root, user.id)).etag
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => admin.users.update(root, user.id, { name: `racer ${i}` }, now)),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      ['precondition_failed', 'precondition_failed'],
    )
  })

  it('searches by email, name, role, attribute and status with stable cursor pages while users are inserted', async () => {
    const base = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        admin.users.create(CLI, {
          email: `page${String(i).padStart(2, '0')}@list.test`,
          roles: i % 2 ? ['odd'] : [],
          attributes: { n: i % 5 },
        }),
      ),
    )
    const seen: string[] = []
    let cursor: string | undefined
    let inserted = 0
    do {
      // another administrator adds users while we read each page
      const [page] = await Promise.all([
        admin.users.search(root, { email: '@list.test', limit: 4, ...(cursor ? { cursor } : {}) }),
        ...[0, 1].map(() => admin.users.create(CLI, { email: `late${inserted++}@list.test` })),
      ])
      seen.push(...page.items.map((u) => u.email))
      cursor = page.nextCursor
    } while (cursor && seen.length < 200)
    expect(new Set(seen).size).toBe(seen.length) // no row twice
    for (const b of base) expect(seen).toContain(b.user.email) // none skipped
    const odd = await admin.users.search(root, { role: 'odd', email: '@list.test', limit: 200 })
    expect(odd.items).toHaveLength(12)
    const n3 = await admin.users.search(root, { attribute: 'n=3', limit: 200 })
    expect(n3.items.map((u) => u.attributes.n)).toEqual([3, 3, 3, 3, 3])
    await admin.users.setStatus(root, 'page00@list.test', true)
    expect((await admin.users.search(root, { status: 'disabled', limit: 200 })).items.map((u) => u.email)).toEqual([
      'page00@list.test',
    ])
    await expect(admin.users.search(root, { cursor: 'garbage' })).rejects.toMatchObject({
      code: 'invalid_cursor',
      status: 400,
    })
    await expect(admin.users.search(root, { limit: 0, status: 'zombie' })).rejects.toMatchObject({
      code: 'invalid_input',
      details: expect.arrayContaining([expect.stringMatching(/^status/), expect.stringMatching(/^limit/)]),
    })
  })

  it('helpdesk unlocks, resets MFA and resets the password, and can do nothing else', async () => {
    const { user } = await admin.users.create(root, { email: 'cy@example.com', password: PASSWORD })
    // locked out after repeated failures
    for (let i = 0; i <= c.config.LOGIN_MAX_FAILURES; i++)
      await c.login.lockout.attempt('cy@example.com', `10.0.0.${i}`)
    expect(await c.login.lockout.isLocked('cy@example.com')).toBe(true)
    await admin.users.unlock(helpdesk, 'cy@example.com')
    expect(await c.login.lockout.isLocked('cy@example.com')).toBe(false)
    expect(await lastAudit('user.unlocked')).toMatchObject({ actor: `user:${helpdesk.kind === 'user' && helpdesk.id}` })

    await c.login.mfa.importTotp(user.id, 'JBSWY3DPEHPK3PXP')
    await c.login.mfa.regenerateRecoveryCodes(user.id)
    expect(await admin.users.resetMfa(helpdesk, user.id)).toEqual({ factorsRemoved: 1 })
    expect(await c.login.mfa.hasFactor(user.id)).toBe(false)
    expect(await c.login.mfa.remainingRecoveryCodes(user.id)).toBe(0)
    expect((await lastAudit('user.mfa_reset'))!.details).toMatchObject({
      before: { factors: [{ type: 'totp' }] },
      after: { factors: [] },
    })

    const session = await c.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: 'x' })
    const reset = await admin.users.resetPassword(helpdesk, user.id)
    expect(reset.sessionsEnded).toBe(1)
    expect(await c.login.sessions.resolve(session.token)).toBeUndefined()
    expect((await c.users.login('cy@example.com', PASSWORD)).ok).toBe(false)
    const after = await c.users.login('cy@example.com', reset.password)
    expect(after).toMatchObject({ ok: true, user: { mustChangePassword: true } })
    expect(JSON.stringify(await lastAudit('user.password_reset'))).not.toContain(reset.password)

    for (const denied of [
      () => admin.users.read(helpdesk, user.id),
      () => admin.users.update(helpdesk, user.id, { name: 'x' }),
      () => admin.users.remove(helpdesk, user.id),
      () => admin.users.sessions(helpdesk, user.id),
      () => admin.clients.list(helpdesk),
      () => admin.users.setStatus(helpdesk, user.id, true),
    ]) {
      await expect(denied()).rejects.toMatchObject({ code: 'forbidden', status: 403 })
    }
    await expect(admin.users.unlock(helpdesk, 'nobody@nowhere.test')).rejects.toMatchObject({
      code: 'not_found',
      status: 404,
    })
  })

  it('lists and revokes sessions', async () => {
    const { user } = await admin.users.create(root, { email: 'di@example.com' })
    const a = await c.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: 'x', ip: '10.1.1.1' })
    const b = await c.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: 'x' })
    const list = await admin.users.sessions(root, user.id)
    expect(list.map((s) => s.id).sort()).toEqual([a.record.id, b.record.id].sort())
    expect(await admin.users.revokeSessions(root, user.id, [a.record.id])).toEqual({ ended: 1 })
    expect(await c.login.sessions.resolve(a.token)).toBeUndefined()
    expect(await c.login.sessions.resolve(b.token)).toBeDefined()
  })

  it('deleting a user ends sessions, revokes API keys, admin grants and OIDC grants, then deletes the user', async () => {
    const { user } = await admin.users.create(root, { email: 'eve@example.com', roles: ['reader'] })
    await admin.authority.grant(root, { type: 'user', id: user.id }, 'auditor')
    const session = await c.login.sessions.create({ userId: user.id, amr: ['pwd'], acr: 'x' })
    const key = await c.apikeys.issue(
      { owner: { type: 'user', id: user.id }, name: 'k', scopes: [], level: 'LOW' },
      { label: 'cli', isAdmin: true },
    )
    const exp = new Date(Date.now() + 3600_000)
    await c.queries.payloads.upsert({
      model: 'Grant',
      id: 'g-eve',
      payload: JSON.stringify({ accountId: user.id, clientId: 'web' }),
      grantId: null,
      userCode: null,
      uid: null,
      expiresAt: exp,
      consumedAt: null,
    })
    await c.queries.payloads.upsert({
      model: 'RefreshToken',
      id: 'rt-eve',
      payload: JSON.stringify({ accountId: user.id, grantId: 'g-eve' }),
      grantId: 'g-eve',
      userCode: null,
      uid: null,
      expiresAt: exp,
      consumedAt: null,
    })
    await c.queries.payloads.upsert({
      model: 'Grant',
      id: 'g-other',
      payload: JSON.stringify({ accountId: 'someone-else', clientId: 'web' }),
      grantId: null,
      userCode: null,
      uid: null,
      expiresAt: exp,
      consumedAt: null,
    })

    const r = await admin.users.remove(root, 'eve@example.com')
    expect(r).toEqual({
      sessionsEnded: 1,
      apiKeysRevoked: [key.record.id],
      adminRolesRevoked: ['auditor'],
      grantsRevoked: 1,
    })
    expect(await c.users.findById(user.id)).toBeNull()
    expect(await c.login.sessions.resolve(session.token)).toBeUndefined()
    expect((await c.apikeys.get(key.record.id))!.revokedAt).toBeTruthy()
    expect(await admin.authority.rolesOf({ type: 'user', id: user.id })).toEqual([])
    expect(await c.queries.payloads.find('Grant', 'g-eve')).toBeNull()
    expect(await c.queries.payloads.find('RefreshToken', 'rt-eve')).toBeNull()
    expect(await c.queries.payloads.find('Grant', 'g-other')).not.toBeNull()
    expect((await lastAudit('user.deleted'))!.details).toMatchObject({
      before: { email: 'eve@example.com', admin_roles: ['auditor'] },
      api_keys_revoked: [key.record.id],
    })
    await expect(admin.users.read(root, user.id)).rejects.toMatchObject({ code: 'not_found' })
  })

  it('clients: create (secret once), read, list with filters, update with If-Match, rotate, delete', async () => {
    const created = await admin.clients.create(root, {
      clientId: 'shop',
      metadata: {
        redirect_uris: ['https://shop.example/cb'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    })
    expect(created.secret).toMatch(/^[\w-]{43}$/)
    expect(await verifyPassword((await c.clients.find('shop'))!.secretHash!, created.secret!)).toBe(true)
    expect(JSON.stringify(await lastAudit('client.created'))).not.toContain(created.secret)
    await admin.clients.create(root, {
      clientId: 'spa',
      metadata: {
        redirect_uris: ['https://spa.example/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    })
    await expect(admin.clients.create(root, { clientId: 'shop', metadata: {} })).rejects.toMatchObject({
      code: 'client_exists',
    })
    await expect(
      admin.clients.create(root, { clientId: 'bad id!', metadata: { client_secret: 's', redirect_uris: 'x' } }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      details: expect.arrayContaining([
        expect.stringMatching(/^clientId/),
        expect.stringMatching(/^metadata\.client_secret/),
      ]),
    })
    await expect(
      admin.clients.create(root, { clientId: 'broken', metadata: { redirect_uris: ['not a url'] } }),
    ).rejects.toMatchObject({ code: 'invalid_input' })

    const read = await admin.clients.read(root, 'shop')
    expect(read).toMatchObject({ clientId: 'shop', hasSecret: true })
    expect(JSON.stringify(read)).not.toContain('secretHash')
    const listed = await admin.clients.list(root, { grantType: 'authorization_code' })
    expect(listed.items.map((i) => i.clientId)).toEqual(['shop', 'spa'])
    expect((await admin.clients.list(root, { id: 'sp' })).items.map((i) => i.clientId)).toEqual(['spa'])

    const updated = await admin.clients.update(root, 'shop', { client_name: 'Shop' }, read.etag)
    expect(updated.metadata.client_name).toBe('Shop')
    await expect(admin.clients.update(root, 'shop', { client_name: 'Other' }, read.etag)).rejects.toMatchObject({
      code: 'precondition_failed',
      status: 412,
    })
    expect((await lastAudit('client.updated'))!.details).toEqual({
      before: { client_name: null },
      after: { client_name: 'Shop' },
    })

    const rotated = await admin.clients.rotateSecret(root, 'shop')
    expect(rotated.secret).not.toBe(created.secret)
    const hash = (await c.clients.find('shop'))!.secretHash!
    expect(await verifyPassword(hash, rotated.secret)).toBe(true)
    expect(await verifyPassword(hash, created.secret!)).toBe(false)
    await expect(admin.clients.rotateSecret(root, 'spa')).rejects.toMatchObject({ code: 'invalid_input' })

    await admin.authority.grant(root, { type: 'client', id: 'shop' }, 'auditor')
    const key = await c.apikeys.issue(
      { owner: { type: 'client', id: 'shop' }, name: 'k', scopes: [], level: 'LOW' },
      { label: 'cli', isAdmin: true },
    )
    expect(await admin.clients.remove(root, 'shop')).toEqual({
      apiKeysRevoked: [key.record.id],
      adminRolesRevoked: ['auditor'],
      grantsRevoked: 0,
    })
    expect(await c.clients.find('shop')).toBeNull()
    expect((await c.apikeys.get(key.record.id))!.revokedAt).toBeTruthy()
    await expect(admin.clients.read(root, 'shop')).rejects.toMatchObject({ code: 'not_found' })
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import type { AdminRole } from '../../src/admin/authority.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The rest of the admin API (issue 12 §1, §5, §6) over real HTTP: API resources, signing keys,
 * API keys of any owner, policy stores, audit and report, containment, time-bound role grants
 * and access reviews — each decided by the `system` store for the caller's admin roles.
 */
describeOnBackends(
  'admin-api-platform.test.ts',
  'the admin API: platform, containment, least privilege over time',
  ({ kind, redisUrl }) => {
    let server: TestServer
    const tokens: Record<string, string> = {}
    const ROLES: Record<string, AdminRole | undefined> = {
      root: 'admin',
      um: 'user-manager',
      cm: 'client-manager',
      pe: 'policy-editor',
      aud: 'auditor',
      hd: 'helpdesk',
      nobody: undefined,
    }

    beforeAll(async () => {
      server = await startTestServer({ kind, redisUrl, env: { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' } })
      await ensureAdmin(server.container)
      await ensureSystemPolicyStore(server.container)
      await registerServiceClients(
        server,
        Object.keys(ROLES).map((id) => ({ id, scope: 'admin' })),
      )
      const admin = adminServices(server.container)
      for (const [id, role] of Object.entries(ROLES)) {
        if (role) await admin.authority.grant({ kind: 'cli' }, { type: 'client', id }, role)
        tokens[id] = await apiToken(server, id, 'admin')
      }
    }, 180_000)
    afterAll(async () => server?.close())

    const api = (who: string, method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(server, method, `/admin/v1${path}`, tokens[who] ?? who, body, headers)
    const others = (...allowed: string[]) => Object.keys(ROLES).filter((r) => !allowed.includes(r) && r !== 'root')
    async function refusedFor(who: string[], method: string, path: string, body?: unknown) {
      for (const w of who) {
        const r = await api(w, method, path, body)
        expect(r.status, `${w} ${method} ${path}: ${JSON.stringify(r.body)}`).toBe(403)
      }
    }
    async function userKey(email: string, roles: string[] = ['admin']) {
      const u = await api('root', 'POST', '/users', { email, roles })
      expect(u.status).toBe(201)
      const issued = await call(server, 'POST', '/apikeys/v1/keys', tokens.root, {
        name: `k-${email}`,
        owner: `user:${u.body.user.id}`,
        scopes: ['admin'],
      })
      expect(issued.status, JSON.stringify(issued.body)).toBe(201)
      if (issued.body.status !== 'active')
        expect((await call(server, 'POST', `/apikeys/v1/keys/${issued.body.id}/approve`, tokens.root, {})).status).toBe(
          200,
        )
      return { id: u.body.user.id as string, key: issued.body.key as string, keyId: issued.body.id as string }
    }

    describe('API resources', () => {
      const ind = 'https://orders.example.com'
      const path = `/resources/${encodeURIComponent(ind)}`
      it('creates, lists (with the built-in API), reads, updates with If-Match and deletes a resource', async () => {
        const created = await api('root', 'POST', '/resources', {
          indicator: ind,
          scopes: [
            { name: 'orders:read', roles: ['clerk'] },
            { name: 'orders:write', description: 'place orders', roles: ['buyer'] },
          ],
        })
        expect(created.status, JSON.stringify(created.body)).toBe(201)
        expect(created.body.scopes).toEqual([
          { name: 'orders:read', description: null, roles: ['clerk'], management: false },
          { name: 'orders:write', description: 'place orders', roles: ['buyer'], management: false },
        ])
        expect((await api('root', 'POST', '/resources', { indicator: ind })).status).toBe(409)
        const list = await api('cm', 'GET', '/resources')
        expect(list.status).toBe(200)
        const own = list.body.items.find((r: { builtIn: boolean }) => r.builtIn)
        expect(own.scopes.find((s: { name: string }) => s.name === 'audit:read')).toMatchObject({
          roles: ['admin', 'audit:read'],
          management: true,
        })
        const read = await api('aud', 'GET', path)
        expect(read.status).toBe(200)
        const etag = read.headers.get('etag')!
        const upd = await api('root', 'PATCH', path, { accessTokenTtl: 600 }, { 'if-match': etag })
        expect(upd.status, JSON.stringify(upd.body)).toBe(200)
        expect(upd.body.accessTokenTtl).toBe(600)
        expect((await api('root', 'PATCH', path, { accessTokenTtl: 900 }, { 'if-match': etag })).status).toBe(412)
        const audit = (await server.container.audit.list({ action: 'resource.updated', limit: 10 })).find(
          (e) => e.target === ind,
        )!
        expect(audit.details).toMatchObject({ before: { accessTokenTtl: 3600 }, after: { accessTokenTtl: 600 } })
        expect(
          (await api('root', 'PATCH', `/resources/${encodeURIComponent(own.indicator)}`, { accessTokenTtl: 600 }))
            .status,
        ).toBe(409)
        expect((await api('root', 'DELETE', path, undefined, { 'if-match': etag })).status).toBe(412)
        expect((await api('root', 'DELETE', path)).body).toEqual({ deleted: true })
        expect((await api('root', 'GET', path)).status).toBe(404)
      })
      it('refuses roles without resources authority, bad input and unknown resources', async () => {
        await refusedFor(['um', 'pe', 'hd', 'nobody'], 'GET', '/resources')
        await refusedFor(others(), 'POST', '/resources', { indicator: 'https://x.example.com' })
        const bad = await api('root', 'POST', '/resources', {
          indicator: 'not a url#x',
          scopes: [{ name: 'a b' }, { name: 'c', roles: ['no spaces allowed'] }],
          accessTokenTtl: 5,
        })
        expect(bad.status).toBe(400)
        expect(bad.body.details.fields.map((f: { field: string }) => f.field)).toEqual(
          expect.arrayContaining(['indicator', 'scopes.0.name', 'scopes.1.roles.0', 'accessTokenTtl']),
        )
        const dup = await api('root', 'POST', '/resources', {
          indicator: 'https://dup.example.com',
          scopes: [{ name: 'a' }, { name: 'a' }],
        })
        expect(dup.status).toBe(400)
        expect((await api('root', 'GET', `/resources/${encodeURIComponent('https://none.example.com')}`)).status).toBe(
          404,
        )
      })
      it('pages by indicator while resources are inserted: none repeated, none skipped', async () => {
        for (let i = 0; i < 5; i++)
          expect((await api('root', 'POST', '/resources', { indicator: `https://p${i}.example.com` })).status).toBe(201)
        const seen: string[] = []
        let cursor: string | undefined
        let inserted = false
        do {
          const r = await api(
            'aud',
            'GET',
            `/resources?indicator=example.com&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
          )
          expect(r.status).toBe(200)
          seen.push(...r.body.items.map((x: { indicator: string }) => x.indicator))
          cursor = r.body.nextCursor
          if (!inserted) {
            inserted = true
            expect((await api('root', 'POST', '/resources', { indicator: 'https://p9.example.com' })).status).toBe(201)
          }
        } while (cursor)
        expect(new Set(seen).size).toBe(seen.length)
        for (const i of [0, 1, 2, 3, 4, 9]) expect(seen).toContain(`https://p${i}.example.com`)
      })
    })

    describe('signing keys', () => {
      it('lists, rotates and retires; the signer cannot be retired', async () => {
        const before = await api('aud', 'GET', '/signing-keys?status=active')
        expect(before.status).toBe(200)
        // three signing keys and the request-object encryption key
        expect(before.body.items).toHaveLength(4)
        expect(before.body.items[0]).not.toHaveProperty('privateJwk')
        await refusedFor(others(), 'POST', '/signing-keys/rotate')
        const rotated = await api('root', 'POST', '/signing-keys/rotate')
        expect(rotated.status).toBe(200)
        expect(rotated.body.added.map((k: { alg: string }) => k.alg)).toEqual([
          'RS256',
          'ES256',
          'EdDSA',
          'RSA-OAEP-256',
        ])
        const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }
        expect(jwks.keys.map((k) => k.kid)).toEqual(
          expect.arrayContaining(rotated.body.added.map((k: { kid: string }) => k.kid)),
        )
        const signer = rotated.body.added[0].kid
        expect((await api('root', 'POST', `/signing-keys/${signer}/retire`)).status).toBe(409)
        const old = before.body.items[0].kid
        await refusedFor(['aud', 'hd'], 'POST', `/signing-keys/${old}/retire`)
        const retired = await api('root', 'POST', `/signing-keys/${old}/retire`)
        expect(retired.body).toEqual({ kid: old, status: 'retired', changed: true })
        const after = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }
        expect(after.keys.map((k) => k.kid)).not.toContain(old)
        // what the retired keys signed no longer verifies: the old tokens are refused, new ones work
        const oldToken = tokens.root!
        for (const id of Object.keys(ROLES)) tokens[id] = await apiToken(server, id, 'admin')
        for (const k of before.body.items.slice(1))
          expect((await api('root', 'POST', `/signing-keys/${k.kid}/retire`)).body.changed).toBe(true)
        await expect.poll(async () => (await api(oldToken, 'GET', '/signing-keys')).status).toBe(401)
        expect((await api('root', 'POST', '/signing-keys/nokey/retire')).status).toBe(404)
        const page1 = await api('root', 'GET', '/signing-keys?limit=2')
        const page2 = await api('root', 'GET', `/signing-keys?limit=2&cursor=${page1.body.nextCursor}`)
        expect(page2.body.items[0].kid).not.toBe(page1.body.items[1].kid)
        expect((await server.container.audit.list({ action: 'keys.retired', limit: 5 }))[0]?.details).toMatchObject({
          before: { status: 'retiring' },
          after: { status: 'retired' },
        })
      })
    })

    describe('API keys of any owner', () => {
      it('lists with filters, reads, revokes; refuses roles without authority', async () => {
        const owner = await userKey('keys-owner@example.com')
        const list = await api('aud', 'GET', `/api-keys?owner=user:${owner.id}`)
        expect(list.status).toBe(200)
        expect(list.body.items.map((k: { id: string }) => k.id)).toEqual([owner.keyId])
        expect(list.body.items[0]).toHaveProperty('last_used_at')
        expect(JSON.stringify(list.body)).not.toContain(owner.key)
        expect((await api('aud', 'GET', `/api-keys/${owner.keyId}`)).body.status).toBe('active')
        await refusedFor(['um', 'cm', 'pe', 'hd', 'nobody'], 'GET', '/api-keys')
        await refusedFor(others(), 'POST', `/api-keys/${owner.keyId}/revoke`, {})
        const revoked = await api('root', 'POST', `/api-keys/${owner.keyId}/revoke`, { reason: 'left the team' })
        expect(revoked.status).toBe(200)
        expect(revoked.body.status).toBe('revoked')
        expect((await api(owner.key, 'GET', '/users')).status).toBe(401)
        expect(
          (await api('root', 'GET', '/api-keys?status=revoked')).body.items.map((k: { id: string }) => k.id),
        ).toContain(owner.keyId)
        expect((await api('root', 'GET', '/api-keys/nokey')).status).toBe(404)
        expect((await api('root', 'GET', '/api-keys?status=bogus')).status).toBe(400)
      })
    })

    describe('policy stores, audit events and the compliance report', () => {
      it('lets a policy editor change a store with If-Match, and an auditor read events and the report', async () => {
        expect(
          (
            await call(server, 'POST', '/authz/v1/stores', tokens.root, {
              name: 'shop',
              model: 'rbac.conf',
              policy: 'p, clerk, orders, read',
            })
          ).status,
        ).toBe(201)
        const store = await api('pe', 'GET', '/policy-stores/shop')
        expect(store.status).toBe(200)
        const v = store.headers.get('etag')!
        const changed = await api(
          'pe',
          'POST',
          '/policy-stores/shop/versions',
          { add: [['p', 'clerk', 'orders', 'write']] },
          { 'if-match': v },
        )
        expect(changed.status, JSON.stringify(changed.body)).toBe(200)
        expect(changed.body).toEqual({ version: 2, changed: true })
        expect(
          (await api('pe', 'POST', '/policy-stores/shop/versions', { add: [['p', 'x', 'y', 'z']] }, { 'if-match': v }))
            .status,
        ).toBe(412)
        expect(
          (await api('pe', 'POST', '/policy-stores/system/versions', { add: [['g', 'user:x', 'admin']] })).status,
        ).toBe(403)
        expect((await api('pe', 'GET', '/policy-stores/shop/versions')).body.items).toHaveLength(2)
        expect((await api('pe', 'GET', '/policy-stores/none')).status).toBe(404)
        await refusedFor(['um', 'cm', 'hd', 'nobody'], 'GET', '/policy-stores')
        await refusedFor(['aud', 'um', 'cm', 'hd', 'nobody'], 'POST', '/policy-stores/shop/versions', {
          add: [['p', 'a', 'b', 'c']],
        })

        const events = await api('aud', 'GET', '/audit/events?action=policy.changed')
        expect(events.status).toBe(200)
        expect(events.body.events.some((e: { target: string }) => e.target === 'shop')).toBe(true)
        const report = await api('aud', 'GET', '/audit/report?days=7')
        expect(report.status).toBe(200)
        expect(report.body).toHaveProperty('access_reviews')
        await refusedFor(['um', 'cm', 'pe', 'hd', 'nobody'], 'GET', '/audit/events')
        await refusedFor(['um', 'cm', 'pe', 'hd', 'nobody'], 'GET', '/audit/report')
        expect((await api('aud', 'GET', '/audit/report?days=0')).status).toBe(400)
      })
    })

    describe('containment', () => {
      it('contains a user in one call: sessions, grants, API keys, time-bound roles gone, disabled, reason recorded', async () => {
        const u = await userKey('suspect@example.com')
        await server.container.login.sessions.create({ userId: u.id, amr: ['pwd'], acr: '1' })
        await refusedFor(['cm', 'pe', 'aud', 'hd', 'nobody'], 'POST', `/users/${u.id}/contain`, { reason: 'phished' })
        expect((await api('um', 'POST', `/users/${u.id}/contain`, {})).status).toBe(400)
        const r = await api('um', 'POST', `/users/${u.id}/contain`, { reason: 'credentials phished (ticket 42)' })
        expect(r.status, JSON.stringify(r.body)).toBe(200)
        expect(r.body).toMatchObject({
          sessionsEnded: 1,
          apiKeysRevoked: [u.keyId],
          disabled: true,
          wasDisabled: false,
          receiversNotified: 0,
        })
        expect((await server.container.users.findById(u.id))!.disabled).toBe(true)
        expect((await api(u.key, 'GET', '/role-requests')).status).toBe(401)
        const e = (await server.container.audit.list({ action: 'user.contained', limit: 5 })).find(
          (x) => x.target === u.id,
        )!
        expect(e.actor).toBe('client:um')
        expect(e.details).toMatchObject({
          reason: 'credentials phished (ticket 42)',
          before: { disabled: false },
          after: { disabled: true },
        })
        expect((await api('um', 'POST', '/users/nobody-here/contain', { reason: 'x y z' })).status).toBe(404)
      })

      it('contains a client: it can no longer get tokens until enabled again', async () => {
        await registerServiceClients(server, [{ id: 'leaky', scope: 'authz:check' }])
        await apiToken(server, 'leaky', 'authz:check')
        await refusedFor(['um', 'pe', 'aud', 'hd', 'nobody'], 'POST', '/clients/leaky/contain', {
          reason: 'secret in a public repo',
        })
        const r = await api('cm', 'POST', '/clients/leaky/contain', { reason: 'secret in a public repo' })
        expect(r.status, JSON.stringify(r.body)).toBe(200)
        expect(r.body).toMatchObject({ disabled: true, wasDisabled: false })
        await expect(apiToken(server, 'leaky', 'authz:check')).rejects.toThrow()
        expect((await api('cm', 'POST', '/clients/leaky/enable', { reason: 'secret rotated' })).body).toEqual({
          disabled: false,
          changed: true,
        })
        expect(await apiToken(server, 'leaky', 'authz:check')).toEqual(expect.any(String))
        expect((await api('cm', 'POST', '/clients/none/contain', { reason: 'x y z' })).status).toBe(404)
      })
    })

    describe('time-bound role grants', () => {
      it('a user asks, another admin approves, the role works, then stops at expiry without a restart', async () => {
        const eve = await userKey('eve@example.com')
        expect((await api(eve.key, 'GET', '/audit/events')).status).toBe(403)
        const bad = await api(eve.key, 'POST', '/role-requests', { role: 'root', hours: 0, reason: '' })
        expect(bad.status).toBe(400)
        expect(bad.body.details.fields.map((f: { field: string }) => f.field)).toEqual(
          expect.arrayContaining(['role', 'hours', 'reason']),
        )
        expect(
          (
            await api('root', 'POST', '/role-requests', {
              role: 'auditor',
              hours: 2,
              reason: 'a client asks for nobody',
            })
          ).status,
        ).toBe(403)
        expect(
          (
            await api('um', 'POST', '/role-requests', {
              role: 'auditor',
              hours: 2,
              reason: 'filed',
              subject: `user:${eve.id}`,
            })
          ).status,
        ).toBe(403)
        expect(
          (
            await api('root', 'POST', '/role-requests', {
              role: 'auditor',
              hours: 2,
              reason: 'filed',
              subject: 'user:nobody',
            })
          ).status,
        ).toBe(404)
        // filed by root for a user: root cannot approve it, another administrator can
        const filed = await api('root', 'POST', '/role-requests', {
          role: 'helpdesk',
          hours: 1,
          reason: 'ticket 7',
          subject: `user:${eve.id}`,
        })
        expect(filed.status, JSON.stringify(filed.body)).toBe(201)
        const approve = await api('root', 'POST', `/role-requests/${filed.body.id}/approve`, {})
        expect(approve.status).toBe(403)
        expect(approve.body.error).toBe('self_approval')
        expect((await api('root', 'POST', `/role-requests/${filed.body.id}/cancel`)).body.status).toBe('cancelled')
        const req = await api(eve.key, 'POST', '/role-requests', {
          role: 'auditor',
          hours: 2,
          reason: 'quarterly audit',
        })
        expect(req.status, JSON.stringify(req.body)).toBe(201)
        expect(req.body.status).toBe('pending')
        expect(
          (await api(eve.key, 'POST', '/role-requests', { role: 'auditor', hours: 2, reason: 'again' })).status,
        ).toBe(409)
        // the requester cannot approve it, nor can roles without roles:grant
        await refusedFor(['um', 'cm', 'pe', 'aud', 'hd', 'nobody'], 'POST', `/role-requests/${req.body.id}/approve`, {})
        expect((await api(eve.key, 'POST', `/role-requests/${req.body.id}/approve`, {})).status).toBe(403)
        expect(
          (await api('root', 'POST', `/role-requests/${req.body.id}/approve`, {}, { 'if-match': '"stale"' })).status,
        ).toBe(412)
        const ok = await api(
          'root',
          'POST',
          `/role-requests/${req.body.id}/approve`,
          { note: 'ok for today' },
          { 'if-match': req.headers.get('etag')! },
        )
        expect(ok.status, JSON.stringify(ok.body)).toBe(200)
        expect(ok.body).toMatchObject({ status: 'active', decidedBy: 'client:root' })
        expect((await api('root', 'POST', `/role-requests/${req.body.id}/approve`, {})).status).toBe(409)
        expect((await api(eve.key, 'GET', '/audit/events')).status).toBe(200)
        expect((await api(eve.key, 'POST', '/users', { email: 'nope@example.com' })).status).toBe(403) // auditor is read-only
        expect((await api(eve.key, 'GET', `/role-requests/${req.body.id}`)).status).toBe(200) // own request

        // expiry: the row's end moves into the past (as time would); the next decision refuses
        await server.container.db.adminRoleRequest.update({
          where: { id: req.body.id },
          data: { expiresAt: new Date(Date.now() - 1000) },
        })
        expect((await api(eve.key, 'GET', '/audit/events')).status).toBe(403)
        expect((await api('aud', 'GET', `/role-requests/${req.body.id}`)).body.status).toBe('expired')
        const actions = (await server.container.audit.list({ limit: 200 }))
          .filter((e) => e.target === `user:${eve.id}`)
          .map((e) => e.action)
        expect(actions).toEqual(expect.arrayContaining(['admin.role_requested', 'admin.role_request_approved']))
        await expect
          .poll(async () =>
            (await server.container.audit.list({ action: 'admin.role_elevation_expired', limit: 10 })).some(
              (e) => e.target === `user:${eve.id}`,
            ),
          )
          .toBe(true)
      })

      it('denies, cancels and revokes; lists page over inserts', async () => {
        const joe = await userKey('joe@example.com')
        const a = await api(joe.key, 'POST', '/role-requests', { role: 'helpdesk', hours: 1, reason: 'on call' })
        expect((await api(joe.key, 'POST', `/role-requests/${a.body.id}/cancel`)).body.status).toBe('cancelled')
        const b = await api(joe.key, 'POST', '/role-requests', { role: 'helpdesk', hours: 1, reason: 'on call again' })
        expect(
          (await api('root', 'POST', `/role-requests/${b.body.id}/deny`, { note: 'not this week' })).body.status,
        ).toBe('denied')
        const c = await api(joe.key, 'POST', '/role-requests', { role: 'auditor', hours: 1, reason: 'look at logs' })
        await api('root', 'POST', `/role-requests/${c.body.id}/approve`, {})
        expect((await api(joe.key, 'GET', '/audit/events')).status).toBe(200)
        expect((await api('root', 'POST', `/role-requests/${c.body.id}/revoke`, { note: 'done' })).body.status).toBe(
          'revoked',
        )
        expect((await api(joe.key, 'GET', '/audit/events')).status).toBe(403)
        expect((await api('root', 'GET', '/role-requests/none')).status).toBe(404)
        // joe sees only his own; the auditor sees all; pages neither repeat nor skip
        const mine = await api(joe.key, 'GET', '/role-requests')
        expect(mine.body.items.every((r: { subject: string }) => r.subject === `user:${joe.id}`)).toBe(true)
        const seen: string[] = []
        let cursor: string | undefined
        let inserted = false
        do {
          const r = await api('aud', 'GET', `/role-requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
          seen.push(...r.body.items.map((x: { id: string }) => x.id))
          cursor = r.body.nextCursor
          if (!inserted) {
            inserted = true
            expect(
              (await api(joe.key, 'POST', '/role-requests', { role: 'policy-editor', hours: 1, reason: 'late insert' }))
                .status,
            ).toBe(201)
          }
        } while (cursor)
        expect(new Set(seen).size).toBe(seen.length)
        expect(seen).toEqual(expect.arrayContaining([a.body.id, b.body.id, c.body.id]))
      })
    })

    describe('access reviews', () => {
      it('snapshots holdings with last use, confirms and revokes each, and lands in the compliance report', async () => {
        const holder = await userKey('reviewed@example.com')
        await refusedFor(others(), 'POST', '/access-reviews', { name: 'Q4' })
        expect((await api('root', 'POST', '/access-reviews', { name: '' })).status).toBe(400)
        const review = await api('root', 'POST', '/access-reviews', { name: 'Q4 review' })
        expect(review.status, JSON.stringify(review.body)).toBe(201)
        const id = review.body.id as string
        const items: {
          id: string
          kind: string
          subject: string
          entitlement: string
          etag: string
          lastUsedAt: string | null
        }[] = []
        let cursor: string | undefined
        do {
          const page = await api(
            'aud',
            'GET',
            `/access-reviews/${id}/items?limit=5${cursor ? `&cursor=${cursor}` : ''}`,
          )
          expect(page.status).toBe(200)
          items.push(...page.body.items)
          cursor = page.body.nextCursor
        } while (cursor)
        expect(items.length).toBe(review.body.counts.pending)
        expect(
          items.find((i) => i.kind === 'admin_role' && i.subject === 'client:hd' && i.entitlement === 'helpdesk'),
        ).toBeDefined()
        expect(items.find((i) => i.kind === 'management_scope' && i.subject === `user:${holder.id}`)).toBeDefined()
        const key = items.find((i) => i.kind === 'api_key' && i.entitlement === holder.keyId)!
        expect(key).toHaveProperty('lastUsedAt')

        await refusedFor(['aud', 'um', 'hd'], 'POST', `/access-reviews/${id}/items/${key.id}`, { decision: 'confirm' })
        expect((await api('root', 'POST', `/access-reviews/${id}/items/${key.id}`, { decision: 'maybe' })).status).toBe(
          400,
        )
        expect((await api('root', 'POST', `/access-reviews/${id}/complete`)).status).toBe(409) // items pending
        const hd = items.find((i) => i.subject === 'client:hd' && i.kind === 'admin_role')!
        expect(
          (
            await api(
              'root',
              'POST',
              `/access-reviews/${id}/items/${key.id}`,
              { decision: 'revoke', note: 'unused' },
              { 'if-match': key.etag },
            )
          ).body.decision,
        ).toBe('revoked')
        expect(
          (
            await api(
              'root',
              'POST',
              `/access-reviews/${id}/items/${key.id}`,
              { decision: 'confirm' },
              { 'if-match': key.etag },
            )
          ).status,
        ).toBe(412)
        expect((await api(holder.key, 'GET', '/role-requests')).status).toBe(401)
        expect((await api('root', 'POST', `/access-reviews/${id}/items/${hd.id}`, { decision: 'revoke' })).status).toBe(
          200,
        )
        expect((await api('hd', 'POST', `/users/${holder.id}/unlock`)).status).toBe(403)
        for (const i of items.filter((x) => x.id !== key.id && x.id !== hd.id)) {
          expect(
            (await api('root', 'POST', `/access-reviews/${id}/items/${i.id}`, { decision: 'confirm' })).status,
          ).toBe(200)
        }
        const done = await api('root', 'POST', `/access-reviews/${id}/complete`)
        expect(done.status, JSON.stringify(done.body)).toBe(200)
        expect(done.body).toMatchObject({ status: 'completed', counts: { pending: 0, revoked: 2 } })
        expect((await api('root', 'POST', `/access-reviews/${id}/complete`)).status).toBe(409)
        const report = await api('aud', 'GET', '/audit/report')
        const outcome = report.body.access_reviews.completed.find((r: { id: string }) => r.id === id)
        expect(outcome).toMatchObject({ name: 'Q4 review', revoked: 2, completed_by: 'client:root' })
        expect((await api('aud', 'GET', '/access-reviews')).body.items.map((r: { id: string }) => r.id)).toContain(id)
        expect((await api('aud', 'GET', '/access-reviews/none')).status).toBe(404)
      })
    })

    it('adds role rules a newer system.csv brings to an existing system store at start', async () => {
      const c = server.container
      await c.authz.stores.changeBuiltin(
        'system',
        { remove: [['p', 'auditor', 'roles', 'read']] },
        'test',
        'as an older version had it',
      )
      expect(
        (await api('aud', 'GET', '/role-requests?limit=1')).body.items.every(
          (r: { subject: string }) => r.subject === 'client:aud',
        ),
      ).toBe(true)
      expect(await ensureSystemPolicyStore(c)).toBe(false)
      expect((await c.authz.stores.current('system')).lines).toContainEqual(['p', 'auditor', 'roles', 'read'])
      expect((await c.authz.stores.current('system')).author).toBe('bootstrap')
    })

    it('refuses without a credential (401) on the new endpoints', async () => {
      for (const [method, path] of [
        ['GET', '/resources'],
        ['POST', '/signing-keys/rotate'],
        ['GET', '/api-keys'],
        ['GET', '/policy-stores'],
        ['GET', '/audit/events'],
        ['POST', '/users/x/contain'],
        ['POST', '/role-requests'],
        ['GET', '/access-reviews'],
      ]) {
        expect((await call(server, method!, `/admin/v1${path}`)).status, path).toBe(401)
      }
    })
  },
)

import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import {
  adminCallerOf,
  ADMIN_ACTIONS,
  ADMIN_ROLES,
  type AdminAction,
  type AdminCaller,
  type AdminRole,
} from '../../src/admin/authority.ts'
import { adminServices, ensureSystemPolicyStore, type AdminServices } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { exportDocument } from '../../src/declarative/export.ts'
import { validateDocument } from '../../src/declarative/apply.ts'
import type { Container } from '../../src/container.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { testContainer } from '../helpers/container.ts'

/**
 * Who may administer (issue 12 §2): the `system` policy store decides, through the PDP, for
 * users, clients and API keys; the store can never lose its last administrator.
 */

/** The role matrix as the README states it, written out independently of policies/system.csv. */
const READS: AdminAction[] = [
  'users:read',
  'clients:read',
  'resources:read',
  'keys:read',
  'apikeys:read',
  'policies:read',
  'audit:read',
  'report:read',
  'roles:read',
  'idps:read',
]
const EXPECTED: Record<AdminRole, (a: AdminAction) => boolean> = {
  admin: () => true,
  'user-manager': (a) => a.startsWith('users:'),
  'client-manager': (a) => a.startsWith('clients:') || a === 'resources:read',
  'policy-editor': (a) => a === 'policies:read' || a === 'policies:write',
  auditor: (a) => READS.includes(a),
  helpdesk: (a) => a === 'users:unlock' || a === 'users:reset_mfa' || a === 'users:reset_password',
}

describeOnBackends('admin-authority.test.ts', 'admin roles decided by the system store', ({ kind }) => {
  let c: Container
  let admin: AdminServices
  let dispose: () => Promise<void>
  let rootId: string
  const holders = new Map<AdminRole, string>()
  const CLI = { kind: 'cli' } as const

  beforeAll(async () => {
    const t = await testContainer(kind, { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' })
    c = t.c
    dispose = t.dispose
    await ensureAdmin(c)
    expect(await ensureSystemPolicyStore(c)).toBe(true)
    expect(await ensureSystemPolicyStore(c)).toBe(false) // once
    admin = adminServices(c)
    rootId = (await c.users.findByEmail('admin@localhost'))!.id
    for (const role of ADMIN_ROLES) {
      const { user } = await admin.users.create(CLI, { email: `${role}@example.com` })
      await admin.authority.grant(CLI, { type: 'user', id: user.id }, role)
      holders.set(role, user.id)
    }
  }, 120_000)
  afterAll(async () => dispose?.())

  it('the bootstrap administrator holds admin and nobody else holds a role by default', async () => {
    expect(await admin.authority.rolesOf({ type: 'user', id: rootId })).toEqual(['admin'])
    const { user } = await admin.users.create(CLI, { email: 'nobody@example.com', roles: ['admin'] })
    // a user's `roles` field (resource scopes) is not an admin grant
    for (const a of ADMIN_ACTIONS) expect(await admin.authority.may({ kind: 'user', id: user.id }, a)).toBe(false)
  })

  it('each role is allowed exactly its actions, through the PDP', async () => {
    for (const role of ADMIN_ROLES) {
      for (const action of ADMIN_ACTIONS) {
        expect([role, action, await admin.authority.may({ kind: 'user', id: holders.get(role)! }, action)]).toEqual([
          role,
          action,
          EXPECTED[role](action),
        ])
      }
    }
  })

  it('an API key acts with its owner roles bounded by its scopes (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ADMIN_ROLES),
        fc.constantFrom(...ADMIN_ACTIONS),
        fc.subarray(['admin', 'admin:read', 'openid', 'apikeys:manage']),
        async (role, action, scopes) => {
          const caller: AdminCaller = { kind: 'api_key', owner: { type: 'user', id: holders.get(role)! }, scopes }
          const bound = scopes.includes('admin') || (action.endsWith(':read') && scopes.includes('admin:read'))
          expect(await admin.authority.may(caller, action)).toBe(EXPECTED[role](action) && bound)
        },
      ),
      { numRuns: 150 },
    )
  })

  it('maps API callers: client credentials are the client; keys and delegated tokens act for their owner within their scopes', async () => {
    const um = holders.get('user-manager')!
    expect(adminCallerOf({ kind: 'client', id: 'ops', clientId: 'ops', scopes: new Set(['admin']) })).toEqual({
      kind: 'client',
      id: 'ops',
    })
    const delegated = adminCallerOf({
      kind: 'client',
      id: um,
      clientId: 'console',
      scopes: new Set(['openid', 'admin:read']),
    })
    expect(delegated).toEqual({ kind: 'api_key', owner: { type: 'user', id: um }, scopes: ['openid', 'admin:read'] })
    expect(await admin.authority.may(delegated, 'users:read')).toBe(true)
    expect(await admin.authority.may(delegated, 'users:write')).toBe(false)
    expect(
      adminCallerOf({
        kind: 'api_key',
        id: 'ops',
        clientId: 'ops',
        scopes: new Set(['admin']),
        apiKey: { id: 'k', level: 'LOW' },
      }),
    ).toEqual({ kind: 'api_key', owner: { type: 'client', id: 'ops' }, scopes: ['admin'] })
    expect(
      adminCallerOf({ kind: 'api_key', id: um, scopes: new Set([]), apiKey: { id: 'k', level: 'LOW' } }),
    ).toMatchObject({ owner: { type: 'user', id: um } })
  })

  it('a client holds admin roles through the same store (client credentials)', async () => {
    await admin.clients.create(CLI, {
      clientId: 'ops-bot',
      metadata: { grant_types: ['client_credentials'], response_types: [] },
    })
    const bot: AdminCaller = { kind: 'client', id: 'ops-bot' }
    expect(await admin.authority.may(bot, 'clients:write')).toBe(false)
    await admin.authority.grant({ kind: 'user', id: rootId }, { type: 'client', id: 'ops-bot' }, 'client-manager')
    const snap = await c.authz.stores.current('system')
    expect(snap.lines).toContainEqual(['g', 'client:ops-bot', 'client-manager'])
    expect(await admin.authority.may(bot, 'clients:write')).toBe(true)
    expect(await admin.authority.may(bot, 'users:read')).toBe(false)
    // and its actions are refused past the role
    await expect(admin.users.search(bot)).rejects.toMatchObject({ code: 'forbidden', status: 403 })
  })

  it('granting roles needs roles:grant; unknown roles are refused', async () => {
    const um: AdminCaller = { kind: 'user', id: holders.get('user-manager')! }
    await expect(
      admin.authority.grant(um, { type: 'user', id: holders.get('helpdesk')! }, 'admin'),
    ).rejects.toMatchObject({ code: 'forbidden' })
    await expect(
      admin.authority.grant(CLI, { type: 'user', id: holders.get('helpdesk')! }, 'superuser'),
    ).rejects.toMatchObject({ code: 'unknown_role', status: 400 })
    expect(await admin.authority.rolesOf({ type: 'user', id: holders.get('helpdesk')! })).toEqual(['helpdesk'])
  })

  it('a disabled administrator may nothing', async () => {
    const { user } = await admin.users.create(CLI, { email: 'second-admin@example.com' })
    await admin.authority.grant(CLI, { type: 'user', id: user.id }, 'admin')
    expect(await admin.authority.may({ kind: 'user', id: user.id }, 'users:read')).toBe(true)
    await admin.users.setStatus(CLI, user.id, true)
    expect(await admin.authority.may({ kind: 'user', id: user.id }, 'users:read')).toBe(false)
    await admin.users.setStatus(CLI, user.id, false)
    await admin.authority.revoke(CLI, { type: 'user', id: user.id }, 'admin')
  })

  it('the system store is neither exported nor importable (grants name user ids; they are made by grant-role)', async () => {
    expect((await exportDocument(c)).policy_stores.map((p: { name: string }) => p.name)).not.toContain('system')
    const { problems } = await validateDocument(c, {
      policy_stores: [{ name: 'system', model: 'system.conf', policy: 'g, user:intruder, admin' }],
    })
    expect(problems).toEqual([{ path: 'policy_stores.0.name', message: expect.stringMatching(/cannot be imported/) }])
  })

  it('every grant is a new audited version of the system store', async () => {
    const before = (await c.authz.stores.current('system')).version
    await admin.authority.grant(CLI, { type: 'user', id: holders.get('auditor')! }, 'helpdesk')
    const after = await c.authz.stores.current('system')
    expect(after.version).toBe(before + 1)
    expect(after.author).toBe('cli')
    const [granted] = await c.queries.audit.list({ action: 'admin.role_granted' })
    expect(granted).toMatchObject({ actor: 'cli', target: `user:${holders.get('auditor')}` })
    expect(granted!.details).toMatchObject({
      role: 'helpdesk',
      before: { roles: ['auditor'] },
      after: { roles: ['auditor', 'helpdesk'] },
    })
  })

  it('the last administrator cannot be removed, disabled or deleted, nor the store edited into no admin', async () => {
    const owners = [rootId, holders.get('admin')!]
    // two admins: one may go
    await admin.authority.revoke({ kind: 'user', id: rootId }, { type: 'user', id: owners[1]! }, 'admin')
    const revoked = await c.queries.audit.list({ action: 'admin.role_revoked' })
    expect(revoked[0]).toMatchObject({ actor: `user:${rootId}`, target: `user:${owners[1]}` })
    expect(revoked[0]!.details).toMatchObject({ role: 'admin', before: { roles: ['admin'] }, after: { roles: [] } })
    // the last one cannot, by any route
    await expect(admin.authority.revoke(CLI, { type: 'user', id: rootId }, 'admin')).rejects.toMatchObject({
      code: 'last_admin',
      status: 409,
    })
    await expect(admin.users.setStatus(CLI, rootId, true)).rejects.toMatchObject({ code: 'last_admin' })
    await expect(admin.users.remove(CLI, rootId)).rejects.toMatchObject({ code: 'last_admin' })
    // the generic policy store service (the /authz/v1 API, policy apply) cannot touch the store at all
    await expect(
      c.authz.stores.change('system', { add: [['g', 'user:intruder', 'admin']] }, 'someone'),
    ).rejects.toMatchObject({ code: 'reserved_store', status: 403 })
    await expect(c.authz.stores.rollback('system', 1, 'someone')).rejects.toMatchObject({ code: 'reserved_store' })
    await expect(
      c.authz.stores.apply({ name: 'system', model: 'system.conf', policy: 'g, user:intruder, admin' }, 'someone'),
    ).rejects.toMatchObject({ code: 'reserved_store' })
    // and even its own service cannot commit a version without an admin
    await expect(
      c.authz.stores.changeBuiltin('system', { remove: [['g', `user:${rootId}`, 'admin']] }, 'someone'),
    ).rejects.toMatchObject({ code: 'last_admin', status: 409 })
    const csv = await c.authz.stores.exportCsv('system')
    await expect(
      c.authz.stores.changeBuiltin(
        'system',
        {
          policy: csv
            .split('\n')
            .filter((l) => !l.startsWith('g'))
            .join('\n'),
        },
        'someone',
      ),
    ).rejects.toMatchObject({ code: 'last_admin' })
    expect(await admin.authority.may({ kind: 'user', id: rootId }, 'roles:grant')).toBe(true)
    // a disabled admin does not count as the remaining one
    await admin.authority.grant(CLI, { type: 'user', id: owners[1]! }, 'admin')
    await admin.users.setStatus(CLI, owners[1]!, true)
    await expect(admin.authority.revoke(CLI, { type: 'user', id: rootId }, 'admin')).rejects.toMatchObject({
      code: 'last_admin',
    })
    await admin.users.setStatus(CLI, owners[1]!, false)
  })
})

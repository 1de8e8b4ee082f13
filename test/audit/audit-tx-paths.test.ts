import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Container } from '../../src/container.ts'
import { adminServices, ensureSystemPolicyStore, type AdminServices } from '../../src/admin/service.ts'
import type { AdminCaller } from '../../src/admin/authority.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { identityProviderEntry } from '../../src/federation/schema.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { testContainer } from '../helpers/container.ts'

/**
 * Issue 16 §5 for the paths converted to `audit.with` (db/audited.ts): the audit record is
 * written in the change's own transaction. Proof: when the database refuses the record (a rule
 * on AuditPending for one action), the change is rolled back with it — neither is stored — and
 * once the rule is gone the same call stores both.
 */
describeOnBackends(
  'audit-tx-paths.test.ts',
  'converted write paths: change and audit record in one transaction',
  ({ kind }) => {
    let c: Container
    let admin: AdminServices
    let root: AdminCaller
    let dispose: () => Promise<void>

    beforeAll(async () => {
      const t = await testContainer(kind, { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' })
      c = t.c
      dispose = t.dispose
      await ensureAdmin(c)
      await ensureSystemPolicyStore(c)
      admin = adminServices(c)
      root = { kind: 'user', id: (await c.users.findByEmail('admin@localhost'))!.id }
    }, 120_000)
    afterAll(async () => dispose?.())

    /** Runs `fn` while the database refuses AuditPending rows of `action`. */
    async function refusing<T>(action: string, fn: () => Promise<T>) {
      const [add, drop] =
        kind === 'postgresql'
          ? [
              `ALTER TABLE "AuditPending" ADD CONSTRAINT refuse_test CHECK (action <> '${action}')`,
              'ALTER TABLE "AuditPending" DROP CONSTRAINT refuse_test',
            ]
          : [
              `CREATE TRIGGER refuse_test BEFORE INSERT ON "AuditPending" WHEN NEW.action = '${action}' BEGIN SELECT RAISE(ABORT, 'record refused'); END`,
              'DROP TRIGGER refuse_test',
            ]
      await c.db.$executeRawUnsafe(add)
      try {
        return await fn()
      } finally {
        await c.db.$executeRawUnsafe(drop)
      }
    }
    const last = async (action: string) => (await c.audit.list({ action, limit: 1 }))[0]

    it('disabling an account: flag, ended sessions and record together; sessions_ended counts what that transaction ended', async () => {
      const u = await c.users.create({ email: 'dora@example.com', password: 'a long enough pass phrase' })
      await c.login.sessions.create({ userId: u.id, amr: ['pwd'], acr: '1' })
      await c.login.sessions.create({ userId: u.id, amr: ['pwd'], acr: '1' })
      await expect(refusing('user.disabled', () => c.accounts.disable(u.email, 'test'))).rejects.toThrow()
      expect((await c.users.findById(u.id))!.disabled).toBe(false)
      expect(await c.login.sessions.list(u.id)).toHaveLength(2)
      expect(await last('user.disabled')).toBeUndefined()

      expect(await c.accounts.disable(u.email, 'test')).toMatchObject({ changed: true, sessionsEnded: 2 })
      expect(await c.login.sessions.list(u.id)).toHaveLength(0)
      expect(await last('user.disabled')).toMatchObject({ actor: 'test', target: u.id, details: { sessions_ended: 2 } })
    })

    it('helpdesk password reset: neither the new password nor the ended sessions without the record', async () => {
      const u = await c.users.create({ email: 'hal@example.com', password: 'a long enough pass phrase' })
      await c.login.sessions.create({ userId: u.id, amr: ['pwd'], acr: '1' })
      await expect(refusing('user.password_reset', () => admin.users.resetPassword(root, u.id))).rejects.toThrow()
      expect((await c.users.login(u.email, 'a long enough pass phrase')).ok).toBe(true)
      expect((await c.users.findById(u.id))!.mustChangePassword).toBe(false)
      expect(await c.login.sessions.list(u.id)).toHaveLength(1)

      const r = await admin.users.resetPassword(root, u.id)
      expect(r.sessionsEnded).toBe(1)
      expect((await c.users.login(u.email, r.password)).ok).toBe(true)
      expect(await last('user.password_reset')).toMatchObject({ target: u.id, details: { sessions_ended: 1 } })
    })

    it('helpdesk MFA reset and API resource creation roll back with a refused record', async () => {
      const u = await c.users.create({ email: 'mia@example.com', password: 'a long enough pass phrase' })
      await c.db.mfaFactor.create({ data: { id: 'f-mia', userId: u.id, type: 'totp', name: 'phone', secret: 'x' } })
      await expect(refusing('user.mfa_reset', () => admin.users.resetMfa(root, u.id))).rejects.toThrow()
      expect(await c.login.mfa.list(u.id)).toHaveLength(1)
      expect(await admin.users.resetMfa(root, u.id)).toEqual({ factorsRemoved: 1 })
      expect(await last('user.mfa_reset')).toMatchObject({
        target: u.id,
        details: { before: { factors: [{ type: 'totp', name: 'phone' }] } },
      })

      const input = { indicator: 'https://api.tx.example', scopes: [{ name: 'read', roles: [] }] }
      await expect(refusing('resource.created', () => admin.resources.create(root, input))).rejects.toThrow()
      expect(await c.queries.resources.find(input.indicator)).toBeNull()
      await admin.resources.create(root, input)
      expect(await last('resource.created')).toMatchObject({ target: input.indicator })
    })

    it('a time-bound role request and the MFA-for-all switch roll back with a refused record', async () => {
      const input = { role: 'helpdesk', hours: 1, reason: 'on call tonight' }
      await expect(
        refusing('admin.role_requested', () => admin.elevation.request(root, input, async () => null)),
      ).rejects.toThrow()
      expect((await admin.elevation.list(root, {})).items).toEqual([])
      const r = await admin.elevation.request(root, input, async () => null)
      expect(await last('admin.role_requested')).toMatchObject({ details: { request: r.id, role: 'helpdesk' } })

      await expect(refusing('mfa.policy_changed', () => c.login.setRequireMfaForAll(true, 'test'))).rejects.toThrow()
      expect(await c.login.requireMfaForAll()).toBe(false)
      await c.login.setRequireMfaForAll(true, 'test')
      expect(await c.login.requireMfaForAll()).toBe(true)
      await c.login.setRequireMfaForAll(false, 'test')
    })

    it('federation: the account, its link and federation.user_created are one transaction', async () => {
      const profile = {
        provider: 'upstream',
        subject: 'sub-1',
        email: 'fed@example.com',
        emailVerified: true,
        roles: [],
        amr: [],
      }
      await c.federation.importProviders(
        [
          identityProviderEntry.parse({
            alias: 'upstream',
            type: 'oidc',
            issuer: 'https://idp.example',
            client_id: 'portcullis',
            client_secret: 'upstream-secret-0123456789',
          }),
        ],
        'test',
      )
      await expect(refusing('federation.user_created', () => c.federation.resolve(profile))).rejects.toThrow()
      expect(await c.users.findByEmail('fed@example.com')).toBeNull()
      expect(await c.db.federatedIdentity.count({ where: { subject: 'sub-1' } })).toBe(0)

      const r = await c.federation.resolve(profile)
      expect(r).toMatchObject({ kind: 'created' })
      expect(await c.db.federatedIdentity.count({ where: { subject: 'sub-1', userId: r.user.id } })).toBe(1)
      expect(await last('federation.user_created')).toMatchObject({ target: r.user.id })
    })
  },
)

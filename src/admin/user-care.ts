import type { AuditAction } from '../audit/actions.ts'
import type { ApiKeyService } from '../apikeys/service.ts'
import type { AuditLog } from '../audit/log.ts'
import type { AccountStatus } from '../identity/account-status.ts'
import { hashPassword } from '../identity/passwords.ts'
import type { UserRecord } from '../identity/queries.ts'
import type { StrongLogin } from '../identity/strong-login.ts'
import type { UserService } from '../identity/users.ts'
import { callerLabel, type AdminAuthority, type AdminCaller } from './authority.ts'
import type { AdminQueries } from './queries.ts'
import { temporaryPassword, view } from './users.ts'

/**
 * What account care needs of the running server (the container has this shape; DESIGN.md
 * "Layout": no feature takes the container).
 */
export interface AdminUserCareDeps {
  accounts: Pick<AccountStatus, 'disable' | 'enable'>
  login: {
    sessions: Pick<StrongLogin['sessions'], 'revoke' | 'list' | 'afterRevoked'>
    lockout: Pick<StrongLogin['lockout'], 'unlock'>
    mfa: Pick<StrongLogin['mfa'], 'removeAll'>
  }
  apikeys: Pick<ApiKeyService, 'list' | 'revoke' | 'ownersChanged'>
  audit: Pick<AuditLog, 'with'>
  users: Pick<UserService, 'updateSigningOut'>
}

/** What every account-care action shares: the deps, the authority and how a user is found. */
interface Care {
  c: AdminUserCareDeps
  q: AdminQueries
  authority: AdminAuthority
  /** a user by id or email (404 if none) */
  find: (ref: string) => Promise<UserRecord>
}

/** A change's audit record, for `audit.with` (committed with the change, db/audited.ts). */
const record = (caller: AdminCaller, action: AuditAction, target: string, details: Record<string, unknown>) => ({
  action,
  outcome: 'success' as const,
  actor: callerLabel(caller),
  target,
  details,
})

/** Enabling, disabling and deleting accounts. */
function accountLifecycle({ c, q, authority, find }: Care) {
  return {
    async setStatus(caller: AdminCaller, ref: string, disabled: boolean) {
      await authority.require(caller, 'users:write')
      const u = await find(ref)
      if (disabled && !u.disabled) await authority.keepsAnAdmin([u.id])
      // account-status.ts ends sessions, stops API keys everywhere and records the event
      const r = disabled
        ? await c.accounts.disable(u.email, callerLabel(caller))
        : await c.accounts.enable(u.email, callerLabel(caller))
      return { user: view(r.user), changed: r.changed, sessionsEnded: r.sessionsEnded }
    },

    /**
     * Deletes a user: their sign-in sessions end (and the OIDC sessions linked to them), their
     * API keys are revoked (kept, revoked, for the audit trail), their admin grants leave the
     * system store, their OIDC grants (consents) and every token issued under them are deleted,
     * then their factors, recovery codes, invitations and the user row go. The last enabled
     * administrator cannot be deleted.
     */
    async remove(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:delete')
      const u = await find(ref)
      const label = callerLabel(caller)
      await authority.keepsAnAdmin([u.id])
      const sessionsEnded = await c.login.sessions.revoke(u.id, 'all')
      const keys = (await c.apikeys.list({ type: 'user', id: u.id })).filter((k) => !k.revokedAt)
      for (const k of keys) await c.apikeys.revoke(k.id, { label, isAdmin: false })
      const adminRoles = await authority.revokeAll(caller, { type: 'user', id: u.id }, `user ${u.email} deleted`)
      const grants = await q.grantIds({ accountId: u.id })
      // the user row and its deletion record go together (db/audited.ts)
      await q.deleteUser(
        u.id,
        grants,
        c.audit.with(() => ({
          action: 'user.deleted',
          outcome: 'success',
          actor: label,
          target: u.id,
          details: {
            before: { email: u.email, name: u.name, roles: u.roles, admin_roles: adminRoles },
            sessions_ended: sessionsEnded,
            api_keys_revoked: keys.map((k) => k.id),
            grants_revoked: grants.length,
          },
        })),
      )
      await c.apikeys.ownersChanged()
      return {
        sessionsEnded,
        apiKeysRevoked: keys.map((k) => k.id),
        adminRolesRevoked: adminRoles,
        grantsRevoked: grants.length,
      }
    },
  }
}

/** Lockout, second factors and passwords. */
function accountCredentials({ c, authority, find }: Care) {
  return {
    async unlock(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:unlock')
      const u = await find(ref)
      await c.login.lockout.unlock(u.email, callerLabel(caller)) // records user.unlocked
      return view(u)
    },

    /** Removes every second factor and the recovery codes; the user enrols again at next sign-in if MFA is required. */
    async resetMfa(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:reset_mfa')
      const u = await find(ref)
      // one transaction: the factors, the recovery codes and the record of what was removed
      const factors = await c.login.mfa.removeAll(
        u.id,
        c.audit.with((removed) =>
          record(caller, 'user.mfa_reset', u.id, {
            before: { factors: removed.map((f) => ({ type: f.type, name: f.name })) },
            after: { factors: [] },
          }),
        ),
      )
      return { factorsRemoved: factors.length }
    },

    /**
     * Sets a generated temporary password (returned once, never stored in clear or audited) that
     * must be changed at the next sign-in, and ends the user's sessions.
     */
    async resetPassword(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:reset_password')
      const u = await find(ref)
      const password = temporaryPassword()
      // the password, the sessions it ends and the record commit together (db/audited.ts)
      const { ended } = await c.users.updateSigningOut(
        u.id,
        { passwordHash: await hashPassword(password), mustChangePassword: true },
        c.audit.with((r) =>
          record(caller, 'user.password_reset', u.id, {
            before: { must_change_password: u.mustChangePassword },
            after: { must_change_password: true },
            sessions_ended: r.ended.length,
          }),
        ),
      )
      await c.login.sessions.afterRevoked(ended)
      return { password, sessionsEnded: ended.length }
    },
  }
}

/** A user's sign-in sessions: listed and ended. */
function accountSessions({ c, authority, find }: Care) {
  return {
    async sessions(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:sessions')
      const u = await find(ref)
      return (await c.login.sessions.list(u.id)).map((s) => ({
        id: s.id,
        createdAt: s.createdAt,
        lastSeenAt: s.lastSeenAt,
        expiresAt: s.expiresAt,
        ip: s.ip,
        userAgent: s.userAgent,
        amr: s.amr,
      }))
    },

    async revokeSessions(caller: AdminCaller, ref: string, ids: string[] | 'all') {
      await authority.require(caller, 'users:sessions')
      const u = await find(ref)
      const ended = await c.login.sessions.revoke(
        u.id,
        ids,
        c.audit.with((rows) =>
          record(caller, 'user.sessions_revoked', u.id, {
            sessions: ids === 'all' ? 'all' : ids.length,
            ended: rows.length,
          }),
        ),
      )
      return { ended }
    },
  }
}

/**
 * Account care by administrators and the helpdesk (issue 12 §1): status, deletion, lockout,
 * second factors, passwords and sessions. `find` resolves a user by id or email (404 if none).
 */
export function adminUserCare(
  c: AdminUserCareDeps,
  q: AdminQueries,
  authority: AdminAuthority,
  find: (ref: string) => Promise<UserRecord>,
) {
  const care: Care = { c, q, authority, find }
  return { ...accountLifecycle(care), ...accountCredentials(care), ...accountSessions(care) }
}
export type AdminUserCare = ReturnType<typeof adminUserCare>

import { notFound } from '../errors.ts'
import type { AuditLog } from '../audit/log.ts'
import type { SessionService } from './sessions.ts'
import { normalizeEmail, type UserService } from './users.ts'

/**
 * Disabling and enabling accounts (Keycloak's "Enabled" switch). A disabled user cannot sign in
 * (users.login), their sign-in sessions and the OIDC sessions linked to them end at once,
 * their refresh tokens stop working (findAccount no longer finds them), and their API keys stop
 * on every instance right away (`ownersChanged` clears each instance's key cache).
 */
export function accountStatus(deps: {
  users: UserService
  sessions: SessionService
  audit: AuditLog
  /** tell the API key caches everywhere that an owner's state changed */
  ownersChanged?: () => Promise<void>
}) {
  /** `reason` goes into the record (e.g. `hijacking` from a containment: SSF sends it on, ssf/events.ts) */
  async function set(email: string, disabled: boolean, actor: string, reason?: string) {
    const user = await deps.users.findByEmail(email)
    if (!user) throw notFound(`no user with the email ${normalizeEmail(email)}`)
    if (user.disabled === disabled) return { user, changed: false, sessionsEnded: 0 }
    // The flag, the sessions it ends and the audit record commit together (db/audited.ts), so
    // `sessions_ended` counts exactly what this change revoked.
    const action = disabled ? 'user.disabled' : 'user.enabled'
    const { user: updated, ended } = disabled
      ? await deps.users.updateSigningOut(
          user.id,
          { disabled },
          deps.audit.with((r) => ({
            action,
            outcome: 'success',
            actor,
            target: user.id,
            details: { email: user.email, sessions_ended: r.ended.length, ...(reason ? { reason } : {}) },
          })),
        )
      : {
          user: await deps.users.update(
            user.id,
            { disabled },
            deps.audit.with(() => ({
              action,
              outcome: 'success',
              actor,
              target: user.id,
              details: { email: user.email },
            })),
          ),
          ended: [],
        }
    if (ended.length) await deps.sessions.afterRevoked(ended)
    await deps.ownersChanged?.()
    return { user: updated, changed: true, sessionsEnded: ended.length }
  }
  return {
    disable: (email: string, actor: string, reason?: string) => set(email, true, actor, reason),
    enable: (email: string, actor: string) => set(email, false, actor),
  }
}
export type AccountStatus = ReturnType<typeof accountStatus>

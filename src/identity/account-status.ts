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
  async function set(email: string, disabled: boolean, actor: string) {
    const user = await deps.users.findByEmail(email)
    if (!user) throw notFound(`no user with the email ${normalizeEmail(email)}`)
    if (user.disabled === disabled) return { user, changed: false, sessionsEnded: 0 }
    const updated = await deps.users.update(user.id, { disabled })
    const sessionsEnded = disabled ? await deps.sessions.revoke(user.id, 'all') : 0
    await deps.ownersChanged?.()
    await deps.audit.record({
      action: disabled ? 'user.disabled' : 'user.enabled', outcome: 'success', actor, target: user.id,
      details: { email: user.email, ...(disabled ? { sessions_ended: sessionsEnded } : {}) },
    })
    return { user: updated, changed: true, sessionsEnded }
  }
  return {
    disable: (email: string, actor: string) => set(email, true, actor),
    enable: (email: string, actor: string) => set(email, false, actor),
  }
}
export type AccountStatus = ReturnType<typeof accountStatus>

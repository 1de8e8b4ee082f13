import type { AuditAction } from '../audit/actions.ts'
import type { AuditLog } from '../audit/log.ts'
import type { UserService } from '../identity/users.ts'
import type { StrongLogin } from '../identity/strong-login.ts'
import type { RequestMeta } from '../identity/password-reset.ts'
import { enrolmentService } from '../identity/enrolment.ts'
import { passwordChangeService } from '../identity/password-change.ts'
import { stepUpService } from '../identity/step-up.ts'

export interface AccountServiceDeps {
  users: UserService
  audit: AuditLog
  login: Pick<StrongLogin, 'mfa' | 'sessions' | 'lockout'>
  passwordMinLength: number
}

interface Who {
  id: string
  email: string
  name: string | null
}

/**
 * What the account pages do, as one service: the identity services a user acts through on their
 * own account (enrolment, password change, step-up), the page's overview, the profile and the
 * sign-in sessions. Every state change commits with its audit record (db/audited.ts).
 */
export function accountService(deps: AccountServiceDeps) {
  const { login, audit } = deps
  const success = (user: Who, action: AuditAction, details: Record<string, unknown>, m: RequestMeta) => ({
    action,
    outcome: 'success' as const,
    actor: user.id,
    target: user.id,
    details,
    ...m,
  })

  return {
    enrolment: enrolmentService({ mfa: login.mfa, sessions: login.sessions, audit }),
    passwords: passwordChangeService({
      users: deps.users,
      lockout: login.lockout,
      sessions: login.sessions,
      audit,
      minLength: deps.passwordMinLength,
    }),
    stepUp: stepUpService({ mfa: login.mfa, lockout: login.lockout, audit }),

    /** What the account page shows: factors, recovery codes left, sessions and recent security events. */
    async overview(userId: string) {
      const [factors, recoveryLeft, sessions, own, keyEvents] = await Promise.all([
        login.mfa.list(userId),
        login.mfa.remainingRecoveryCodes(userId),
        login.sessions.list(userId),
        audit.list({ actor: userId, limit: 20 }),
        // the key service labels its actors `user:<id>`
        audit.list({ actor: `user:${userId}`, limit: 20 }),
      ])
      const events = [...own, ...keyEvents].sort((a, b) => b.seq - a.seq).slice(0, 20)
      return { factors, recoveryLeft, sessions, events }
    },

    /** The display name (empty: none). */
    updateName: (user: Who, name: string | null, m: RequestMeta) =>
      deps.users.update(
        user.id,
        { name },
        audit.with(() => success(user, 'profile.updated', { fields: ['name'] }, m)),
      ),

    /** Ends one of the user's sign-in sessions; 0 when the user has no such session. */
    revokeSession: (user: Who, sessionId: string, m: RequestMeta) =>
      login.sessions.revoke(
        user.id,
        [sessionId],
        audit.with((rows) =>
          rows.length ? success(user, 'session.revoked', { session: sessionId.slice(0, 12) }, m) : null,
        ),
      ),

    /** Signs out here (`current`) or everywhere. */
    signOut: (user: Who, current: string, everywhere: boolean, m: RequestMeta) =>
      login.sessions.revoke(
        user.id,
        everywhere ? 'all' : [current],
        audit.with((rows) => success(user, 'session.revoked', { everywhere, sessions: rows.length }, m)),
      ),
  }
}
export type AccountService = ReturnType<typeof accountService>

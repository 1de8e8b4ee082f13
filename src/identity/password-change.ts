import type { AuditAction } from '../audit/actions.ts'
import type { AuditLog } from '../audit/log.ts'
import { t } from '../views/i18n.ts'
import type { LockoutGuard } from './lockout.ts'
import { passwordProblems } from './password-policy.ts'
import type { RequestMeta } from './password-reset.ts'
import type { SessionService } from './sessions.ts'
import type { UserService } from './users.ts'

interface Who {
  id: string
  email: string
  name: string | null
}

/** Why the current password did not confirm the request. */
export type Reauthentication = 'ok' | 'locked' | 'wrong'

export type PasswordChange =
  { ok: true } | { ok: false; reason: 'locked' | 'wrong_current' | 'policy'; problems: string[] }

/**
 * A signed-in user proves it is them again with the current password (before changing it or
 * the email address), and changes the password. The check runs under the same lockout as the
 * sign-in page; a wrong password is recorded under the action the user was attempting.
 */
export function passwordChangeService(deps: {
  users: Pick<UserService, 'login' | 'setPasswordSigningOut'>
  lockout: Pick<LockoutGuard, 'attempt' | 'succeeded'>
  sessions: Pick<SessionService, 'afterRevoked'>
  audit: AuditLog
  minLength: number
}) {
  async function reauthenticate(
    user: Who,
    password: string,
    m: RequestMeta,
    action: AuditAction,
  ): Promise<Reauthentication> {
    const verdict = await deps.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) return 'locked'
    if (!(await deps.users.login(user.email, password.slice(0, 1024))).ok) {
      await deps.audit.record({
        action,
        outcome: 'failure',
        actor: user.id,
        target: user.id,
        details: { reason: 'wrong_current_password' },
        ...m,
      })
      return 'wrong'
    }
    await deps.lockout.succeeded(user.email, m.ip)
    return 'ok'
  }

  return {
    reauthenticate,
    /**
     * Changes the password after the current one, the policy and the confirmation field
     * agreed. `problems` are messages in the request's language.
     */
    async change(
      user: Who,
      currentSessionId: string,
      input: { current: string; next: string; confirm: string },
      m: RequestMeta,
    ): Promise<PasswordChange> {
      const again = await reauthenticate(user, input.current, m, 'password.changed')
      if (again === 'locked') return { ok: false, reason: 'locked', problems: [t('form.tooManyAttempts')] }
      if (again === 'wrong') return { ok: false, reason: 'wrong_current', problems: [t('form.currentPasswordWrong')] }
      const problems = passwordProblems(input.next, {
        minLength: deps.minLength,
        email: user.email,
        userInputs: user.name ? [user.name] : [],
      })
      if (input.next !== input.confirm) problems.push(t('password.mismatch'))
      if (!problems.length && input.next === input.current) problems.push(t('password.sameAsCurrent'))
      if (problems.length) return { ok: false, reason: 'policy', problems }
      // A changed password ends every other session (ASVS 3.3.3): the password, those sessions and
      // the record (counting what this transaction ended) commit together (db/audited.ts).
      const { ended } = await deps.users.setPasswordSigningOut(
        user.id,
        input.next,
        currentSessionId,
        deps.audit.with((r) => ({
          action: 'password.changed',
          outcome: 'success',
          actor: user.id,
          target: user.id,
          details: { sessions_ended: r.ended.length },
          ...m,
        })),
      )
      await deps.sessions.afterRevoked(ended)
      return { ok: true }
    },
  }
}
export type PasswordChangeService = ReturnType<typeof passwordChangeService>

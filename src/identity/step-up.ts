import type { AuditLog } from '../audit/log.ts'
import type { LockoutGuard } from './lockout.ts'
import type { MfaService } from './mfa.ts'
import type { RequestMeta } from './password-reset.ts'
import type { SessionRecord } from './queries/sessions.ts'

/**
 * How long a sign-in with a second factor counts as "fresh" for a sensitive change without
 * typing a code (e.g. a passkey sign-in just before).
 */
export const FRESH_MFA_MS = 5 * 60_000
const SECOND_FACTOR_AMR = new Set(['otp', 'hwk', 'swk', 'mfa'])
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export type StepUp =
  | { ok: true }
  | { ok: false; reason: 'missing' }
  | { ok: false; reason: 'locked'; retryAfter: number }
  | { ok: false; reason: 'wrong' }

/**
 * A fresh second factor before a sensitive change (issue 10 §1): needed only when the user has
 * one; a sign-in with a second factor in the last FRESH_MFA_MS suffices, else a TOTP or
 * recovery code typed on the form. Codes are checked under the sign-in lockout (a wrong one
 * counts and is answered after the same delay as at sign-in) and every check is audited.
 */
export function stepUpService(deps: {
  mfa: Pick<MfaService, 'hasFactor' | 'verifyTotp' | 'useRecoveryCode'>
  lockout: Pick<LockoutGuard, 'attempt' | 'succeeded' | 'delayAfter'>
  audit: AuditLog
}) {
  return {
    async verify(
      s: SessionRecord,
      user: { id: string; email: string },
      code: string,
      purpose: string,
      m: RequestMeta,
    ): Promise<StepUp> {
      if (!(await deps.mfa.hasFactor(user.id))) return { ok: true }
      if (Date.now() - s.createdAt.getTime() < FRESH_MFA_MS && s.amr.some((a) => SECOND_FACTOR_AMR.has(a)))
        return { ok: true }
      if (!code) return { ok: false, reason: 'missing' }
      const verdict = await deps.lockout.attempt(user.email, m.ip, m)
      if (!verdict.allowed) return { ok: false, reason: 'locked', retryAfter: verdict.retryAfter }
      const method = /^\d{6,8}$/.test(code) ? 'totp' : 'recovery'
      const ok =
        method === 'totp'
          ? (await deps.mfa.verifyTotp(user.id, code)).ok
          : await deps.mfa.useRecoveryCode(user.id, code)
      await deps.audit.record({
        action: 'mfa.verify',
        outcome: ok ? 'success' : 'failure',
        actor: user.id,
        target: user.email,
        details: { method, purpose },
        ...m,
      })
      if (ok) {
        await deps.lockout.succeeded(user.email, m.ip)
        return { ok: true }
      }
      await sleep(deps.lockout.delayAfter(verdict.failures))
      return { ok: false, reason: 'wrong' }
    },
  }
}
export type StepUpService = ReturnType<typeof stepUpService>

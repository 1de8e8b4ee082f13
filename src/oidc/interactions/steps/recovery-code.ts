import { t } from '../../../views/i18n.ts'
import type { StrongLogin } from '../../../identity/strong-login.ts'

/**
 * A recovery code as the second factor, used up by the attempt that matches. It is a one-time
 * password (NIST SP 800-63B "look-up secret"): amr `otp`, like TOTP.
 */
export async function checkRecoveryCode(login: StrongLogin, userId: string, code: string) {
  if (await login.mfa.useRecoveryCode(userId, code)) return { ok: true as const }
  return { ok: false as const, reason: 'invalid', message: t('mfa.recoveryWrong') }
}

/** What the success record says about the codes left. */
export async function recoveryDetails(login: StrongLogin, userId: string) {
  return { remaining_codes: await login.mfa.remainingRecoveryCodes(userId) }
}

import { t } from '../../../views/i18n.ts'
import type { StrongLogin } from '../../../identity/strong-login.ts'

/** A TOTP code (RFC 6238) as the second factor; a code used once is refused again (replay). */
export async function checkTotp(login: StrongLogin, userId: string, code: string) {
  const r = await login.mfa.verifyTotp(userId, code)
  if (r.ok) return { ok: true as const }
  return {
    ok: false as const,
    reason: r.reason,
    message: t(r.reason === 'replay' ? 'mfa.codeReplayed' : 'mfa.codeWrong'),
  }
}

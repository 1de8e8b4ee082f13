import type { EmailVerificationService } from '../../identity/email-verification.ts'
import { t } from '../../views/i18n.ts'
import { emailFieldOf } from '../form-fields.ts'
import type { AccountService } from '../service.ts'
import { seeOther, type PageStep } from '../page-kit.ts'
import type { HomePage } from './home.ts'

const newEmailField = emailFieldOf('form.newEmailMissing')

/** The user's email address on the account page: change it, or ask for a verification link. */
export function emailSteps(deps: {
  account: AccountService
  verification: EmailVerificationService
  home: HomePage
}): PageStep[] {
  return [
    /**
     * `POST /account/email`: change the address. The current password is asked again (under the
     * sign-in lockout), and nothing changes until the link mailed to the new address is followed.
     */
    {
      method: 'post',
      path: '/email',
      handle: async (ctx, req) => {
        const again = (key: string, status: number) => deps.home.render(ctx, req, { errors: { email: t(key) } }, status)
        const parsed = newEmailField.safeParse(req.form.new_email ?? '')
        if (!parsed.success) return again(parsed.error.issues[0]!.message, 400)
        const current = req.form.current_password ?? ''
        const ok = await deps.account.passwords.reauthenticate(
          req.user,
          current,
          req.meta,
          'user.email_change_requested',
        )
        if (ok === 'locked') return again('form.tooManyAttempts', 429)
        if (ok === 'wrong') return again('form.currentPasswordWrong', 400)
        const r = await deps.verification.requestChange(req.user, parsed.data, req.meta)
        if (r.retryAfter) return again('form.tooManyMails', 429)
        seeOther(ctx, '/account?done=change_sent')
      },
    },
    /** `POST /account/email/verify`: the signed-in user asks for a verification link. */
    {
      method: 'post',
      path: '/email/verify',
      handle: async (ctx, req) => {
        if (req.user.emailVerified) return seeOther(ctx, '/account?done=verified')
        const r = await deps.verification.send(req.user, req.meta)
        if (r.retryAfter) ctx.set('Retry-After', String(r.retryAfter))
        seeOther(ctx, r.retryAfter ? '/account?done=verify_limited' : '/account?done=verify_sent')
      },
    },
  ]
}

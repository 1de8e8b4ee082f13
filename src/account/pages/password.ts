import type { AccountService } from '../service.ts'
import { seeOther, type PageStep } from '../page-kit.ts'
import type { HomePage } from './home.ts'

/**
 * `POST /account/password`: the current password (under the sign-in lockout), the new one
 * twice. The change ends every other session (identity/password-change.ts).
 */
export function passwordStep(deps: { account: AccountService; home: HomePage }): PageStep {
  return {
    method: 'post',
    path: '/password',
    handle: async (ctx, req) => {
      const f = req.form
      const r = await deps.account.passwords.change(
        req.user,
        req.s.id,
        { current: f.current_password ?? '', next: f.new_password ?? '', confirm: f.confirm_password ?? '' },
        req.meta,
      )
      if (!r.ok)
        return deps.home.render(ctx, req, { errors: { password: r.problems } }, r.reason === 'locked' ? 429 : 400)
      seeOther(ctx, '/account?done=password')
    },
  }
}

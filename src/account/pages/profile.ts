import { t } from '../../views/i18n.ts'
import type { AccountService } from '../service.ts'
import { seeOther, type PageStep } from '../page-kit.ts'
import type { HomePage } from './home.ts'

/** `POST /account/profile`: the display name. */
export function profileStep(deps: { account: AccountService; home: HomePage }): PageStep {
  return {
    method: 'post',
    path: '/profile',
    handle: async (ctx, req) => {
      const name = (req.form.name ?? '').trim()
      if (name.length > 200) return deps.home.render(ctx, req, { errors: { profile: t('form.atMost200') } }, 400)
      await deps.account.updateName(req.user, name || null, req.meta)
      seeOther(ctx, '/account?done=profile')
    },
  }
}

import type { Context } from 'koa'
import { z } from 'zod'
import { accountCodesPage } from '../../views/account.ts'
import { t } from '../../views/i18n.ts'
import { accountErrors } from '../errors.ts'
import type { AccountService } from '../service.ts'
import { seeOther, sendPage, type PageStep } from '../page-kit.ts'
import type { HomePage } from './home.ts'

export const idParam = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)
/** A path id in the shape ids have, or undefined (an unknown id is then as absent as a made-up one). */
export const idOf = (ctx: Context) => {
  const id = idParam.safeParse(ctx.params.id)
  return id.success ? id.data : undefined
}

/** The user's second factors on the account page: remove, rename, new recovery codes. */
export function factorSteps(deps: { account: AccountService; home: HomePage }): PageStep[] {
  const { enrolment } = deps.account
  return [
    {
      method: 'post',
      path: '/factors/:id/delete',
      handle: async (ctx, req) => {
        const id = idOf(ctx)
        if (!id || !(await enrolment.removeFactor(req.user, id, req.meta))) throw accountErrors.noFactor()
        seeOther(ctx, '/account?done=removed')
      },
    },
    {
      method: 'post',
      path: '/factors/:id/rename',
      handle: async (ctx, req) => {
        const name = (req.form.name ?? '').trim()
        if (!name || name.length > 64)
          return deps.home.render(ctx, req, { errors: { factor: t('account.factorName') } }, 400)
        const id = idOf(ctx)
        if (!id || !(await enrolment.renameFactor(req.user, id, name, req.meta))) throw accountErrors.noFactor()
        seeOther(ctx, '/account?done=renamed')
      },
    },
    {
      method: 'post',
      path: '/recovery-codes',
      handle: async (ctx, req) => {
        sendPage(ctx, accountCodesPage({ codes: await enrolment.regenerateRecoveryCodes(req.user, req.meta) }))
      },
    },
  ]
}

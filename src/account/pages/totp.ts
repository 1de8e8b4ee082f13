import { accountCodesPage, accountTotpPage } from '../../views/account.ts'
import { t } from '../../views/i18n.ts'
import type { AccountService } from '../service.ts'
import { seeOther, sendPage, type PageStep } from '../page-kit.ts'

/**
 * TOTP enrolment: `GET /account/totp` shows a new secret (kept sealed on the session, never in
 * the page URL), `POST /account/totp` confirms it with a code from the app. The first factor
 * comes with recovery codes, shown once.
 */
export function totpSteps(deps: { account: AccountService }): PageStep[] {
  const { enrolment } = deps.account
  return [
    {
      method: 'get',
      path: '/totp',
      handle: async (ctx, req) => {
        const { secret, qr } = await enrolment.startTotp(req.s, req.user)
        sendPage(ctx, accountTotpPage({ csrf: req.csrf, qr, secret }))
      },
    },
    {
      method: 'post',
      path: '/totp',
      handle: async (ctx, req) => {
        const input = { code: req.form.code ?? '', name: req.form.name ?? '' }
        const r = await enrolment.confirmTotp(req.s, req.user, input, req.meta)
        if (!r.ok) {
          const page = accountTotpPage({ csrf: req.csrf, qr: r.qr, secret: r.secret, error: t('enrol.codeWrong') })
          return sendPage(ctx, page, 400)
        }
        if (r.recoveryCodes) return sendPage(ctx, accountCodesPage({ codes: r.recoveryCodes }))
        seeOther(ctx, '/account?done=totp')
      },
    },
  ]
}

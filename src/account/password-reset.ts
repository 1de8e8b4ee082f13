import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { readForm } from '../http/body.ts'
import type { PasswordResetService } from '../identity/password-reset.ts'
import { t } from '../views/i18n.ts'
import {
  forgotPasswordPage,
  resetDonePage,
  resetInvalidPage,
  resetLimitedPage,
  resetPasswordPage,
  resetRequestedPage,
} from '../views/password-reset.ts'
import { emailField, interactionUid, printable, typedBack } from './form-fields.ts'
import { linkPageHeaders, requestMeta, sendPage } from './page-kit.ts'

export interface PasswordResetDeps {
  reset: PasswordResetService
  product: string
  clientIp: (ctx: Context) => string
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
}

// The messages are catalogue keys (views/i18n.ts), translated where they are shown.
const resetForm = z.object({
  new_password: z.string().max(1024, 'form.passwordTooLong').refine(printable, 'password.controlChars').default(''),
  confirm_password: z.string().max(1024).default(''),
})

/**
 * The forgotten-password pages (issue 14 §3): `/password/forgot` asks for the address and
 * answers the same for every address; `/password/reset?token=` (the link in the mail) shows
 * the new-password form, and its POST sets the password. The token is the credential of the
 * reset form (nobody else can know it), so the form needs no other CSRF token; the cross-site
 * guard still refuses posts from other sites. Pages are `no-store` and send no referrer, so
 * the link never leaves in a Referer header.
 */
export function passwordResetRouter(deps: PasswordResetDeps) {
  const router = new Router({ prefix: '/password' })
  router.use(deps.formGuard, linkPageHeaders)
  const meta = requestMeta(deps.clientIp)
  const ttlMinutes = Math.round(deps.reset.options.ttl / 60)
  const minLength = deps.reset.options.minLength

  router.get('/forgot', (ctx) => {
    sendPage(ctx, forgotPasswordPage({ interaction: interactionUid.parse(ctx.query.interaction) }))
  })

  router.post('/forgot', async (ctx) => {
    const form = await readForm(ctx)
    const interaction = interactionUid.parse(form.interaction)
    const parsed = emailField.safeParse(form.email ?? '')
    if (!parsed.success) {
      const error = t(parsed.error.issues[0]!.message)
      return sendPage(ctx, forgotPasswordPage({ interaction, email: typedBack(form.email, 320), error }), 400)
    }
    const r = await deps.reset.request(parsed.data, meta(ctx))
    if (r.retryAfter) {
      ctx.set('Retry-After', String(r.retryAfter))
      return sendPage(ctx, resetLimitedPage(r.retryAfter), 429)
    }
    sendPage(ctx, resetRequestedPage({ email: parsed.data, ttlMinutes, interaction }))
  })

  router.get('/reset', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : ''
    const user = await deps.reset.check(token)
    if (!user) return sendPage(ctx, resetInvalidPage(), 400)
    sendPage(ctx, resetPasswordPage({ token, email: user.email, minLength }))
  })

  router.post('/reset', async (ctx) => {
    const form = await readForm(ctx)
    const token = typeof form.token === 'string' && form.token.length <= 64 ? form.token : ''
    const user = await deps.reset.check(token)
    if (!user) return sendPage(ctx, resetInvalidPage(), 400)
    const again = (errors: string[]) =>
      sendPage(ctx, resetPasswordPage({ token, email: user.email, minLength, errors }), 400)
    const parsed = resetForm.safeParse(form)
    if (!parsed.success) return again(parsed.error.issues.map((i) => t(i.message)))
    const f = parsed.data
    if (f.new_password !== f.confirm_password) return again([t('password.mismatch')])
    const r = await deps.reset.complete(token, f.new_password, meta(ctx))
    if (!r.ok) return r.problems ? again(r.problems) : sendPage(ctx, resetInvalidPage(), 400)
    sendPage(ctx, resetDonePage({ sessionsEnded: deps.reset.options.endsSessions }))
  })

  return router
}

import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { readForm } from '../body.ts'
import { sendLinkPage } from '../page.ts'
import type { PasswordResetService } from '../../identity/password-reset.ts'
import { t } from '../../views/i18n.ts'
import {
  forgotPasswordPage,
  resetDonePage,
  resetInvalidPage,
  resetLimitedPage,
  resetPasswordPage,
  resetRequestedPage,
} from '../../views/password-reset.ts'

export interface PasswordResetDeps {
  reset: PasswordResetService
  product: string
  clientIp: (ctx: Context) => string
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
}

// Printable text only: NUL, other control characters and lone surrogates never reach a lookup.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const printable = (s: string) => !/[\u0000-\u001f\u007f]/.test(s) && !LONE_SURROGATE.test(s)
// The messages are catalogue keys (views/i18n.ts), translated where they are shown.
const emailField = z
  .string()
  .trim()
  .min(1, 'form.emailMissing')
  .max(320, 'form.emailTooLong')
  .refine(printable, 'form.emailInvalid')
  .pipe(z.email('form.emailInvalid'))
const interactionUid = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .optional()
  .catch(undefined)
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
  router.use(deps.formGuard)
  const send = sendLinkPage
  const meta = (ctx: Context) => ({
    ip: deps.clientIp(ctx),
    userAgent: ctx.get('user-agent') || null,
    requestId: ctx.state.requestId as string,
  })
  const ttlMinutes = Math.round(deps.reset.options.ttl / 60)

  router.get('/forgot', (ctx) => {
    send(ctx, forgotPasswordPage({ interaction: interactionUid.parse(ctx.query.interaction) }))
  })

  router.post('/forgot', async (ctx) => {
    const form = await readForm(ctx)
    const interaction = interactionUid.parse(form.interaction)
    const parsed = emailField.safeParse(form.email ?? '')
    if (!parsed.success) {
      const typed = typeof form.email === 'string' && printable(form.email) ? form.email.slice(0, 320) : ''
      return send(
        ctx,
        forgotPasswordPage({ interaction, email: typed, error: t(parsed.error.issues[0]!.message) }),
        400,
      )
    }
    const r = await deps.reset.request(parsed.data, meta(ctx))
    if (r.retryAfter) {
      ctx.set('Retry-After', String(r.retryAfter))
      return send(ctx, resetLimitedPage(r.retryAfter), 429)
    }
    send(ctx, resetRequestedPage({ email: parsed.data, ttlMinutes, interaction }))
  })

  router.get('/reset', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : ''
    const user = await deps.reset.check(token)
    if (!user) return send(ctx, resetInvalidPage(), 400)
    send(ctx, resetPasswordPage({ token, email: user.email, minLength: deps.reset.options.minLength }))
  })

  router.post('/reset', async (ctx) => {
    const form = await readForm(ctx)
    const token = typeof form.token === 'string' && form.token.length <= 64 ? form.token : ''
    const user = await deps.reset.check(token)
    if (!user) return send(ctx, resetInvalidPage(), 400)
    const again = (errors: string[]) =>
      send(ctx, resetPasswordPage({ token, email: user.email, minLength: deps.reset.options.minLength, errors }), 400)
    const parsed = resetForm.safeParse(form)
    if (!parsed.success) return again(parsed.error.issues.map((i) => t(i.message)))
    const f = parsed.data
    if (f.new_password !== f.confirm_password) return again([t('password.mismatch')])
    const r = await deps.reset.complete(token, f.new_password, meta(ctx))
    if (!r.ok) return r.problems ? again(r.problems) : send(ctx, resetInvalidPage(), 400)
    send(ctx, resetDonePage({ sessionsEnded: deps.reset.options.endsSessions }))
  })

  return router
}

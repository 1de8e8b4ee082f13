import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { readForm } from '../body.ts'
import { sendLinkPage } from '../page.ts'
import type { EmailVerificationService } from '../../identity/email-verification.ts'
import type { SessionRecord } from '../../identity/queries/sessions.ts'
import { z } from 'zod'
import {
  changedPage,
  changeTakenPage,
  confirmChangePage,
  verifiedPage,
  verifyEmailPage,
  verifyInvalidPage,
} from '../../views/email-verification.ts'
import { t } from '../../views/i18n.ts'
import type { UserService } from '../../identity/users.ts'
import type { LockoutGuard } from '../../identity/lockout.ts'
import type { AuditLog } from '../../audit/log.ts'

type Meta = (ctx: Context) => { ip: string; userAgent: string | null; requestId: string }

/**
 * The verification link's pages (issue 14 §2): GET shows what will be verified and a button,
 * so a mail scanner that fetches links verifies nothing; the POST uses the link. The token is
 * the form's credential; the cross-site guard refuses posts from other sites.
 */
export function emailVerificationRouter(deps: {
  verification: EmailVerificationService
  clientIp: (ctx: Context) => string
  formGuard: Middleware
}) {
  const router = new Router({ prefix: '/email' })
  router.use(deps.formGuard)
  const send = sendLinkPage
  router.get('/verify', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : ''
    const user = await deps.verification.check(token)
    if (!user) return send(ctx, verifyInvalidPage(), 400)
    send(ctx, verifyEmailPage({ token, email: user.email }))
  })
  router.post('/verify', async (ctx) => {
    const form = await readForm(ctx)
    const token = typeof form.token === 'string' ? form.token : ''
    const r = await deps.verification.confirm(token, {
      ip: deps.clientIp(ctx),
      userAgent: ctx.get('user-agent') || null,
      requestId: ctx.state.requestId as string,
    })
    if (!r.ok) return send(ctx, verifyInvalidPage(), 400)
    send(ctx, verifiedPage(r.email))
  })
  router.get('/change', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : ''
    const found = await deps.verification.checkChange(token)
    if (!found) return send(ctx, verifyInvalidPage(), 400)
    send(ctx, confirmChangePage({ token, from: found.user.email, to: found.newEmail }))
  })
  router.post('/change', async (ctx) => {
    const form = await readForm(ctx)
    const token = typeof form.token === 'string' ? form.token : ''
    const r = await deps.verification.confirmChange(token, {
      ip: deps.clientIp(ctx),
      userAgent: ctx.get('user-agent') || null,
      requestId: ctx.state.requestId as string,
    })
    if (!r.ok) return send(ctx, r.taken ? changeTakenPage() : verifyInvalidPage(), r.taken ? 409 : 400)
    send(ctx, changedPage(r.email))
  })
  return router
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
// The messages are catalogue keys (views/i18n.ts), translated where they are shown.
const newEmailField = z
  .string()
  .trim()
  .min(1, 'form.newEmailMissing')
  .max(320, 'form.emailTooLong')
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s) && !LONE_SURROGATE.test(s), 'form.emailInvalid')
  .pipe(z.email('form.emailInvalid'))

/** `POST /account/email/verify`: the signed-in user asks for a verification link. */
export function accountEmailRoutes(
  router: Router,
  deps: {
    verification: EmailVerificationService
    users: UserService
    lockout: LockoutGuard
    audit: AuditLog
    require: (
      ctx: Context,
    ) => Promise<{ s: SessionRecord; user: { id: string; email: string; emailVerified: boolean } } | undefined>
    checkCsrf: (s: SessionRecord, token: string | undefined) => void
    /** the account page again, with an error next to the change-email form */
    renderError: (ctx: Context, s: SessionRecord, message: string, status: number) => Promise<void>
    meta: Meta
  },
) {
  /**
   * `POST /account/email`: change the address. The current password is asked again (under the
   * sign-in lockout), and nothing changes until the link mailed to the new address is followed.
   */
  router.post('/email', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    const f = await readForm(ctx)
    deps.checkCsrf(got.s, f.csrf)
    const { user } = got
    const m = deps.meta(ctx)
    const parsed = newEmailField.safeParse(f.new_email ?? '')
    if (!parsed.success) return deps.renderError(ctx, got.s, t(parsed.error.issues[0]!.message), 400)
    const verdict = await deps.lockout.attempt(user.email, m.ip, m)
    if (!verdict.allowed) return deps.renderError(ctx, got.s, t('form.tooManyAttempts'), 429)
    if (!(await deps.users.login(user.email, (f.current_password ?? '').slice(0, 1024))).ok) {
      await deps.audit.record({
        action: 'user.email_change_requested',
        outcome: 'failure',
        actor: user.id,
        target: user.id,
        details: { reason: 'wrong_current_password' },
        ...m,
      })
      return deps.renderError(ctx, got.s, t('form.currentPasswordWrong'), 400)
    }
    await deps.lockout.succeeded(user.email, m.ip)
    const r = await deps.verification.requestChange(user, parsed.data, m)
    if (r.retryAfter) return deps.renderError(ctx, got.s, t('form.tooManyMails'), 429)
    ctx.status = 303
    ctx.redirect('/account?done=change_sent')
  })

  router.post('/email/verify', async (ctx) => {
    const got = await deps.require(ctx)
    if (!got) return
    deps.checkCsrf(got.s, (await readForm(ctx)).csrf)
    if (got.user.emailVerified) {
      ctx.status = 303
      ctx.redirect('/account?done=verified')
      return
    }
    const r = await deps.verification.send(got.user, deps.meta(ctx))
    if (r.retryAfter) ctx.set('Retry-After', String(r.retryAfter))
    ctx.status = 303
    ctx.redirect(r.retryAfter ? '/account?done=verify_limited' : '/account?done=verify_sent')
  })
}

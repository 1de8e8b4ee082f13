import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { readForm } from '../body.ts'
import type { EmailVerificationService } from '../../identity/email-verification.ts'
import type { SessionRecord } from '../../identity/queries/sessions.ts'
import { verifiedPage, verifyEmailPage, verifyInvalidPage } from '../../views/email-verification.ts'

type Meta = (ctx: Context) => { ip: string; userAgent: string | null; requestId: string }

/**
 * The verification link's pages (issue 14 §2): GET shows what will be verified and a button,
 * so a mail scanner that fetches links verifies nothing; the POST uses the link. The token is
 * the form's credential; the cross-site guard refuses posts from other sites.
 */
export function emailVerificationRouter(deps: { verification: EmailVerificationService; clientIp: (ctx: Context) => string; formGuard: Middleware }) {
  const router = new Router({ prefix: '/email' })
  router.use(deps.formGuard)
  const send = (ctx: Context, body: string, status = 200) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.set('Referrer-Policy', 'no-referrer')
    ctx.type = 'html'
    ctx.status = status
    ctx.body = body
  }
  router.get('/verify', async (ctx) => {
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : ''
    const user = await deps.verification.check(token)
    if (!user) return send(ctx, verifyInvalidPage(), 400)
    send(ctx, verifyEmailPage({ token, email: user.email }))
  })
  router.post('/verify', async (ctx) => {
    const form = await readForm(ctx)
    const token = typeof form.token === 'string' ? form.token : ''
    const r = await deps.verification.confirm(token, { ip: deps.clientIp(ctx), userAgent: ctx.get('user-agent') || null, requestId: ctx.state.requestId as string })
    if (!r.ok) return send(ctx, verifyInvalidPage(), 400)
    send(ctx, verifiedPage(r.email))
  })
  return router
}

/** `POST /account/email/verify`: the signed-in user asks for a verification link. */
export function accountEmailRoutes(router: Router, deps: {
  verification: EmailVerificationService
  require: (ctx: Context) => Promise<{ s: SessionRecord; user: { id: string; email: string; emailVerified: boolean } } | undefined>
  checkCsrf: (s: SessionRecord, token: string | undefined) => void
  meta: Meta
}) {
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

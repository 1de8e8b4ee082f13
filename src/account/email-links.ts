import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { readForm } from '../http/body.ts'
import type { EmailVerificationService } from '../identity/email-verification.ts'
import {
  changedPage,
  changeTakenPage,
  confirmChangePage,
  verifiedPage,
  verifyEmailPage,
  verifyInvalidPage,
} from '../views/email-verification.ts'
import { linkPageHeaders, requestMeta, sendPage } from './page-kit.ts'

/**
 * The verification and change links' pages (issue 14 §2): GET shows what will be verified (or
 * changed) and a button, so a mail scanner that fetches links verifies nothing; the POST uses
 * the link. The token is the form's credential; the cross-site guard refuses posts from other
 * sites. The account page's own email forms are pages/email.ts.
 */
export function emailVerificationRouter(deps: {
  verification: EmailVerificationService
  clientIp: (ctx: Context) => string
  formGuard: Middleware
}) {
  const router = new Router({ prefix: '/email' })
  router.use(deps.formGuard, linkPageHeaders)
  const meta = requestMeta(deps.clientIp)
  const queryToken = (ctx: Context) => (typeof ctx.query.token === 'string' ? ctx.query.token : '')
  const formToken = async (ctx: Context) => {
    const form = await readForm(ctx)
    return typeof form.token === 'string' ? form.token : ''
  }

  router.get('/verify', async (ctx) => {
    const token = queryToken(ctx)
    const user = await deps.verification.check(token)
    if (!user) return sendPage(ctx, verifyInvalidPage(), 400)
    sendPage(ctx, verifyEmailPage({ token, email: user.email }))
  })
  router.post('/verify', async (ctx) => {
    const r = await deps.verification.confirm(await formToken(ctx), meta(ctx))
    if (!r.ok) return sendPage(ctx, verifyInvalidPage(), 400)
    sendPage(ctx, verifiedPage(r.email))
  })
  router.get('/change', async (ctx) => {
    const token = queryToken(ctx)
    const found = await deps.verification.checkChange(token)
    if (!found) return sendPage(ctx, verifyInvalidPage(), 400)
    sendPage(ctx, confirmChangePage({ token, from: found.user.email, to: found.newEmail }))
  })
  router.post('/change', async (ctx) => {
    const r = await deps.verification.confirmChange(await formToken(ctx), meta(ctx))
    if (!r.ok) return sendPage(ctx, r.taken ? changeTakenPage() : verifyInvalidPage(), r.taken ? 409 : 400)
    sendPage(ctx, changedPage(r.email))
  })
  return router
}

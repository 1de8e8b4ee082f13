import crypto from 'node:crypto'
import type { Context } from 'koa'
import { safeEqual } from '../../crypto/constant-time.ts'
import { ACCOUNT_CLIENT_ID } from '../../oidc/login-policy.ts'
import { errorPage } from '../../oidc/interactions/views.ts'
import { hasKey, t } from '../../views/i18n.ts'
import { seeOther, sendPage, type PublicStep } from '../page-kit.ts'

const STATE_COOKIE = 'portcullis_account_state'

/**
 * The way into the account pages: a sign-in through the provider as the first-party client
 * `portcullis-account` (prompt=login, response_type=none, no tokens), so the same password,
 * lockout and MFA rules apply and a fresh session is issued at the end. `state` is bound to the
 * browser by a short-lived cookie.
 */
export function signInSteps(deps: { publicUrl: string; signedIn: (ctx: Context) => Promise<unknown> }): PublicStep[] {
  const secure = deps.publicUrl.startsWith('https:') ? '; Secure' : ''
  return [
    {
      method: 'get',
      path: '/login',
      public: true,
      handle: (ctx) => {
        const state = crypto.randomBytes(16).toString('base64url')
        ctx.append(
          'Set-Cookie',
          `${STATE_COOKIE}=${state}; Path=/account; HttpOnly; SameSite=Lax; Max-Age=600${secure}`,
        )
        const url = new URL('/auth', deps.publicUrl)
        url.search = new URLSearchParams({
          client_id: ACCOUNT_CLIENT_ID,
          response_type: 'none',
          scope: 'openid',
          prompt: 'login',
          redirect_uri: `${deps.publicUrl}/account/callback`,
          state,
        }).toString()
        seeOther(ctx, url.toString())
      },
    },
    {
      method: 'get',
      path: '/callback',
      public: true,
      handle: async (ctx) => {
        const expected = ctx.cookies.get(STATE_COOKIE, { signed: false }) ?? ''
        const state = typeof ctx.query.state === 'string' ? ctx.query.state : ''
        ctx.append('Set-Cookie', `${STATE_COOKIE}=; Path=/account; HttpOnly; SameSite=Lax; Max-Age=0`)
        const title = t('error.notSignedInTitle')
        if (typeof ctx.query.error === 'string') {
          const code = `error.code.${ctx.query.error}`
          const message = hasKey(code) ? t(code) : String(ctx.query.error_description ?? ctx.query.error)
          return sendPage(ctx, errorPage(title, message), 400)
        }
        if (!expected || !safeEqual(state, expected))
          return sendPage(ctx, errorPage(title, t('error.notSignedInStart')), 400)
        if (!(await deps.signedIn(ctx))) return sendPage(ctx, errorPage(title, t('error.notSignedInDone')), 400)
        seeOther(ctx, '/account')
      },
    },
  ]
}

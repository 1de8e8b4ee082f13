import Router from '@koa/router'
import type { Middleware } from 'koa'

/**
 * The HTML forms oidc-provider renders on our pages post to its own routes (default paths,
 * see provider.ts): the device code entry and confirmation (`/device`, RFC 8628 §3.3) and the
 * sign-out confirmation (`/session/end/confirm`). This router puts the page-form guard in front
 * of exactly those, then hands the request on to the provider. `/session/end` itself stays
 * open to cross-site POSTs: relying parties send users there (OIDC RP-Initiated Logout 1.0 §2).
 */
export function providerFormRouter(formGuard: Middleware) {
  const router = new Router()
  const onward: Middleware = (_ctx, next) => next()
  router.post('/device', formGuard, onward)
  router.post('/session/end/confirm', formGuard, onward)
  return router
}

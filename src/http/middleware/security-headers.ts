import type { Middleware } from 'koa'

/**
 * Headers for every response. The CSP allows no inline script or style; oidc-provider adds the
 * hash of its own form_post script to script-src when it renders one. No `form-action`: it
 * would also apply to the redirect to a client's redirect_uri after a form post.
 */
export function securityHeaders(opts: { https: boolean }): Middleware {
  return async (ctx, next) => {
    ctx.set('Content-Security-Policy', "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
    ctx.set('X-Frame-Options', 'DENY')
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('Referrer-Policy', 'no-referrer')
    ctx.set('Cross-Origin-Opener-Policy', 'same-origin')
    if (opts.https) ctx.set('Strict-Transport-Security', 'max-age=31536000; includeSubDomains')
    await next()
  }
}

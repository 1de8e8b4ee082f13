import type { ServerResponse } from 'node:http'
import type { Middleware } from 'koa'

/**
 * Headers for every response. The CSP allows no inline script or style; oidc-provider adds the
 * hash of its own form_post script to script-src when it renders one. No `form-action`: it
 * would also apply to the redirect to a client's redirect_uri after a form post.
 */
export function securityHeaderList(opts: { https: boolean; imgOrigins?: string[] }): [string, string][] {
  // The brand's logo may live on another origin (BRAND_LOGO_URL): that origin, and only it.
  const img = ["'self'", 'data:', ...(opts.imgOrigins ?? [])].join(' ')
  return [
    [
      'Content-Security-Policy',
      `default-src 'self'; script-src 'self'; style-src 'self'; img-src ${img}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'`,
    ],
    ['X-Frame-Options', 'DENY'],
    ['X-Content-Type-Options', 'nosniff'],
    // same-origin, not no-referrer: nothing leaks to other sites, and our own form posts carry
    // our Origin (under no-referrer browsers send `Origin: null`, Fetch §3.1 "append a request
    // Origin header"), which the cross-site form guard (http/cross-site.ts) relies on.
    ['Referrer-Policy', 'same-origin'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    ...(opts.https ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as [string, string]] : []),
  ]
}

export function securityHeaders(opts: { https: boolean; imgOrigins?: string[] }): Middleware {
  const headers = securityHeaderList(opts)
  return async (ctx, next) => {
    for (const [name, value] of headers) ctx.set(name, value)
    keepOnResponse(ctx.res, headers)
    await next()
  }
}

/**
 * Koa's default error path (ctx.onerror — also in oidc-provider's own Koa app) removes every
 * header before writing an error, so ours are put back, where missing, as the head goes out:
 * Node writes every head through writeHead, implicit ones included.
 */
function keepOnResponse(res: ServerResponse, headers: [string, string][]) {
  const writeHead = res.writeHead
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!this.headersSent) for (const [name, value] of headers) if (!this.hasHeader(name)) this.setHeader(name, value)
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args)
  } as ServerResponse['writeHead']
}

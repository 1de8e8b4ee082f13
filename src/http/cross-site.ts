import type { Middleware } from 'koa'
import { AppError } from '../errors.ts'
import { t } from '../views/i18n.ts'
import { errorPage } from '../views/layout.ts'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * Why a state-changing request to one of our pages comes from another site, or undefined when
 * it does not. Browsers say where a request comes from in `Origin` (RFC 6454 §7; `null` for
 * opaque origins: sandboxed frames, data: URLs, some redirects) and in `Sec-Fetch-Site`
 * (W3C Fetch Metadata). A sibling subdomain is "same-site" but not us: it is refused unless the
 * request also names our own origin. A request with neither header (an old client) is decided
 * by the CSRF token alone.
 */
export function crossSiteReason(
  ours: string,
  origin: string | undefined,
  fetchSite: string | undefined,
): string | undefined {
  if (origin && origin !== ours)
    return origin === 'null' ? 'an opaque (null) origin' : `another origin (${origin.slice(0, 200)})`
  const site = fetchSite?.toLowerCase()
  if (site === 'cross-site') return 'another site (Sec-Fetch-Site: cross-site)'
  if (site === 'same-site' && origin !== ours) return 'another site of the same domain (Sec-Fetch-Site: same-site)'
  return undefined
}

/**
 * The one guard for the forms of our pages (sign-in, consent, second factor, device code,
 * sign-out, account): a POST (or any unsafe method) sent by another site is refused with 403
 * before the handler runs, even when it carries a valid CSRF token. Mounted once per page
 * router; PUBLIC_URL's origin is the only origin our pages are served from.
 */
export function crossSiteFormGuard(
  publicUrl: string,
  onRefused?: (ctx: Parameters<Middleware>[0], reason: string) => void,
): Middleware {
  const ours = new URL(publicUrl).origin
  return async (ctx, next) => {
    if (!SAFE_METHODS.has(ctx.method)) {
      const reason = crossSiteReason(ours, ctx.get('origin') || undefined, ctx.get('sec-fetch-site') || undefined)
      if (reason) {
        onRefused?.(ctx, reason)
        const message = t('error.crossSite', { from: reason, ours })
        // A form post is a browser navigation: it gets a page whatever it says it accepts. The
        // JSON endpoints of the pages (passkey ceremonies) get our JSON error shape.
        if (!ctx.is('urlencoded', 'multipart')) throw new AppError('cross_site_request', message, { status: 403 })
        ctx.status = 403
        ctx.set('Cache-Control', 'no-store')
        ctx.type = 'html'
        ctx.body = errorPage(t('error.requestTitle'), message, {
          back: [{ href: '/account', label: t('error.toAccount') }],
        })
        return
      }
    }
    await next()
  }
}

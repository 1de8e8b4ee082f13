import type { Middleware } from 'koa'
import { AppError } from '../../errors.ts'

/**
 * 405 Method Not Allowed with `Allow` (RFC 9110 §15.5.6) for paths that take only POST (and
 * the CORS preflight). The body is the OAuth error shape, as these are OAuth endpoints.
 */
export function methodGuard(postOnly: readonly string[]): Middleware {
  const paths = new Set(postOnly)
  return async (ctx, next) => {
    if (paths.has(ctx.path) && ctx.method !== 'POST' && ctx.method !== 'OPTIONS') {
      ctx.set('Allow', 'POST, OPTIONS')
      throw new AppError('invalid_request', `${ctx.path} accepts only POST`, { status: 405 })
    }
    await next()
  }
}

import type { Middleware } from 'koa'
import type { Logger } from 'pino'
import { AppError } from '../../errors.ts'
import { dependencyUnavailable, isDependencyUnavailable, RETRY_AFTER_SECONDS } from '../../db/unavailable.ts'
import { explainedErrorPage } from '../../views/errors.ts'

/**
 * Turns every thrown error into a response with a stable shape:
 * `{"error": code, "error_description": message}` for APIs, a page for browsers.
 * 5xx responses never carry internals; the details go to the log with the request id.
 * (oidc-provider renders its own OAuth errors; this only sees ours and escaped ones.)
 */
export function errorHandler(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (caught) {
      // A database or Redis that is down or frozen: 503 with Retry-After, never a 500 (issue 16 §3).
      const unavailable = isDependencyUnavailable(caught)
      const err = unavailable && !(caught instanceof AppError) ? dependencyUnavailable(caught) : caught
      const e = err as Partial<AppError> & { error?: string; error_description?: string; statusCode?: number }
      const status = e.status ?? e.statusCode ?? 500
      const known = err instanceof AppError || (typeof e.error === 'string' && status < 500)
      const code = err instanceof AppError ? e.code! : typeof e.error === 'string' ? e.error : 'server_error'
      const message =
        known && (err instanceof AppError ? e.expose : status < 500 && (e.expose ?? true))
          ? err instanceof AppError
            ? e.message!
            : (e.error_description ?? e.error!)
          : 'internal server error'
      if (unavailable)
        logger.warn({ err: (caught as Error)?.message, requestId: ctx.state.requestId }, 'dependency unavailable')
      else if (status >= 500) logger.error({ err, requestId: ctx.state.requestId }, 'request failed')
      ctx.status = known ? status : 500
      ctx.set('Cache-Control', 'no-store')
      // RFC 9110 §10.2.3: when to try again
      if (unavailable) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS))
      if (ctx.accepts('json', 'html') === 'html') {
        ctx.type = 'html'
        ctx.body = explainedErrorPage({
          status: ctx.status,
          code: unavailable
            ? 'temporarily_unavailable'
            : (err as Error | undefined)?.name === 'SessionNotFound'
              ? 'SessionNotFound'
              : code,
          message,
        })
      } else {
        ctx.body = {
          error: code,
          error_description: message,
          ...(known && err instanceof AppError && e.details !== undefined ? { details: e.details } : {}),
        }
      }
    }
  }
}

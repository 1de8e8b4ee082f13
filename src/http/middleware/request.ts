import crypto from 'node:crypto'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'

/** Request id (taken from a sane X-Request-ID or generated) and one access-log line per request. */
export function requestContext(logger: Logger): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('x-request-id')
    const requestId = /^[\w.:-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID()
    ctx.state.requestId = requestId
    ctx.set('X-Request-ID', requestId)
    const started = performance.now()
    try {
      await next()
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10
      // ctx.path only: query strings carry codes, tokens and state.
      logger.info({ requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms }, 'request')
    }
  }
}

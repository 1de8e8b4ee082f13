import crypto from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'

/** The caller's X-Request-ID when it is sane (no spaces, markup or control characters), else a new one. */
export const requestIdFrom = (incoming: string | undefined) =>
  incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : crypto.randomUUID()

/** The access-log line; ctx.path only: query strings carry codes, tokens and state. */
export function logRequest(logger: Logger, entry: { requestId: string; method: string; path: string; status: number; ms: number }) {
  logger.info(entry, 'request')
}

const ids = new WeakMap<IncomingMessage, string>()
/** The request id of a raw request, for code that sees another Koa app's context (oidc-provider's). */
export const requestIdOf = (req: IncomingMessage | undefined) => (req ? ids.get(req) : undefined)
/** `to` (a view of `from` handed to another app, see http/oauth-request.ts) has from's id. */
export function shareRequestId(from: IncomingMessage, to: IncomingMessage) {
  const id = ids.get(from)
  if (id && to !== from) ids.set(to, id)
}

/** Request id (taken from a sane X-Request-ID or generated) and one access-log line per request. */
export function requestContext(logger: Logger): Middleware {
  return async (ctx, next) => {
    const requestId = requestIdFrom(ctx.get('x-request-id'))
    ctx.state.requestId = requestId
    ids.set(ctx.req, requestId)
    ctx.set('X-Request-ID', requestId)
    const started = performance.now()
    try {
      await next()
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10
      logRequest(logger, { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms })
    }
  }
}

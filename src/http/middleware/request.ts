import crypto from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Middleware } from 'koa'
import type { Logger } from 'pino'

/** Longest X-Request-ID echoed; a longer one is replaced by our own. */
export const MAX_REQUEST_ID = 256
// Printable ASCII, no leading/trailing space (HTTP strips those, RFC 9110 §5.5): what a caller
// sends is what it gets back, so a PEP can correlate its own ids (AuthZEN 1.0: the PDP echoes the
// X-Request-ID of a request in its response).
const ECHOABLE = new RegExp(`^[\\x21-\\x7e](?:[\\x20-\\x7e]{0,${MAX_REQUEST_ID - 2}}[\\x21-\\x7e])?$`)

/**
 * The X-Request-ID to answer with: the caller's exactly as sent when it is 1-256 printable
 * characters, else a new one (none sent, too long, control or non-ASCII characters).
 */
export const requestIdFrom = (incoming: string | undefined) =>
  incoming && ECHOABLE.test(incoming) ? incoming : crypto.randomUUID()

/**
 * The request id as logs and audit records keep it: unchanged when it is plain (letters,
 * digits, `_.:-`), else percent-encoded and cut to 128 characters, so no log or SIEM line ever
 * carries a caller's markup, quotes or separators.
 */
export function loggableRequestId(id: string): string {
  if (/^[\w.:-]{1,128}$/.test(id)) return id
  const encoded = id.replace(/[^\w.:-]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
  return encoded.length <= 128 ? encoded : encoded.slice(0, 128).replace(/%[0-9A-F]?$/, '')
}

/** The access-log line; ctx.path only: query strings carry codes, tokens and state. */
export function logRequest(
  logger: Logger,
  entry: { requestId: string; method: string; path: string; status: number; ms: number },
) {
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

/**
 * Request id (the caller's X-Request-ID, echoed exactly, or generated) and one access-log line
 * per request. ctx.state.requestId is the loggable form, for logs and audit records.
 */
export function requestContext(logger: Logger): Middleware {
  return async (ctx, next) => {
    const echoed = requestIdFrom(ctx.get('x-request-id'))
    const requestId = loggableRequestId(echoed)
    ctx.state.requestId = requestId
    ids.set(ctx.req, requestId)
    ctx.set('X-Request-ID', echoed)
    const started = performance.now()
    try {
      await next()
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10
      logRequest(logger, { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms })
    }
  }
}

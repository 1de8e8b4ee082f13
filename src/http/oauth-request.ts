import type { IncomingMessage } from 'node:http'
import type { Context } from 'koa'
import { AppError, type StatusOf } from '../errors.ts'
import { readRawBody } from './body.ts'

/**
 * The edge checks of every request handed to oidc-provider (token, introspection, revocation,
 * PAR, device, authorization, end session, ...), in OAuth's error format:
 *
 * - RFC 6749 §3.1: "Request and response parameters MUST NOT be included more than once" —
 *   a repeated parameter, in the query, in the body, or once in each, is a 400
 *   invalid_request. `resource` (RFC 8707 §2) and `audience` (RFC 8693 §2.1) may repeat.
 * - A POST with a body must be application/x-www-form-urlencoded (RFC 6749 §3.2, §4.1.3,
 *   RFC 7662 §2.1, RFC 7009 §2.1, RFC 9126 §2.1, RFC 8628 §3.1): anything else is a 415.
 * - Bodies are bounded (413): oidc-provider's own limit is 56 KiB and answered as a 400.
 *
 * The body read here is kept (ctx.state.oauthForm) for the rate limiter's client key and
 * replayed to oidc-provider, which reads it as if from the socket.
 */
export const OAUTH_BODY_LIMIT = 56 * 1024
const MAY_REPEAT = new Set(['resource', 'audience'])
/**
 * The authorization endpoint is left to oidc-provider's own duplicate check (reject_dupes):
 * once the client and redirect_uri are known, RFC 6749 §4.1.2.1 wants the error sent back to
 * the client by redirect, which only the provider can do; a refusal here would strand the user
 * on our error page. A POST there is turned into the same GET (oidc/authorization-post.ts).
 */
const AUTHORIZATION_PATH = '/auth'
/** RFC 7591 §3.1 / RFC 7592 §2.2: registration requests carry JSON (oidc/dynamic-registration.ts). */
const isRegistrationPath = (path: string) => path === '/reg' || path.startsWith('/reg/')

interface OAuthState {
  oauthForm?: URLSearchParams
  oauthBody?: Buffer
}

const invalid = (status: StatusOf<'invalid_request'>, message: string) =>
  // error is the RFC 6749 §5.2 code the client library understands; the status says which edge rule
  new AppError('invalid_request', message, { status })

function repeated(params: URLSearchParams, also?: URLSearchParams): string[] {
  const seen = new Set<string>()
  const dupes = new Set<string>()
  for (const key of params.keys()) {
    if (MAY_REPEAT.has(key)) continue
    if (seen.has(key) || also?.has(key)) dupes.add(key)
    seen.add(key)
  }
  return [...dupes]
}

function hasBody(ctx: Context) {
  return Number(ctx.get('content-length') || 0) > 0 || Boolean(ctx.get('transfer-encoding'))
}

/**
 * Checks the request and returns its form parameters (empty for a GET or a body-less POST).
 * Read once per request; later callers get the same object.
 */
export async function oauthForm(ctx: Context): Promise<URLSearchParams> {
  const state = ctx.state as OAuthState
  if (state.oauthForm) return state.oauthForm
  const query = new URLSearchParams(ctx.querystring)
  const authorization = ctx.path === AUTHORIZATION_PATH
  const inQuery = authorization ? [] : repeated(query)
  if (inQuery.length)
    throw invalid(
      400,
      `parameter${inQuery.length > 1 ? 's' : ''} ${inQuery.join(', ')} must not be provided more than once (RFC 6749 §3.1)`,
    )
  let form = new URLSearchParams()
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && hasBody(ctx)) {
    if (isRegistrationPath(ctx.path) && ctx.is('application/json')) {
      // bounded and checked for unstorable text by providerBody; oidc-provider parses the JSON
      state.oauthForm = form
      return form
    }
    if (!ctx.is('application/x-www-form-urlencoded')) {
      throw invalid(415, `${ctx.method} ${ctx.path} takes an application/x-www-form-urlencoded body (RFC 6749 §3.2)`)
    }
    let body: Buffer
    try {
      body = await readRawBody(ctx, OAUTH_BODY_LIMIT)
    } catch (e) {
      if (e instanceof AppError && e.status === 413)
        throw invalid(413, `request body larger than ${OAUTH_BODY_LIMIT} bytes`)
      throw e
    }
    state.oauthBody = body
    form = new URLSearchParams(body.toString('utf8'))
    const dupes = authorization ? [] : repeated(form, query)
    if (dupes.length)
      throw invalid(
        400,
        `parameter${dupes.length > 1 ? 's' : ''} ${dupes.join(', ')} must not be provided more than once (RFC 6749 §3.1)`,
      )
  }
  state.oauthForm = form
  return form
}

/**
 * The request to hand to oidc-provider after oauthForm read its body: a view of the original
 * whose body stream replays the bytes already read (oidc-provider reads `req.readable` and
 * `req.iterator()`); everything else (headers, url, socket) is the original's.
 */
export function replayedRequest(ctx: Context): IncomingMessage {
  const body = (ctx.state as OAuthState).oauthBody
  if (!body) return ctx.req
  return Object.create(ctx.req, {
    readable: { value: true },
    readableEncoding: { value: null },
    iterator: {
      value: () =>
        (async function* () {
          yield body
        })(),
    },
  }) as IncomingMessage
}

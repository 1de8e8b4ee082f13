import { isUtf8 } from 'node:buffer'
import type { Context, Middleware } from 'koa'
import { AppError } from '../../errors.ts'
import { textProblem } from '../../storable-text.ts'

/**
 * Every string that reaches storage must be valid for it. PostgreSQL refuses NUL in text
 * (`invalid byte sequence for encoding "UTF8": 0x00`) and a lone UTF-16 surrogate cannot be
 * encoded as UTF-8 at all (the driver silently writes U+FFFD instead, so what is stored is
 * not what was checked or hashed). Invalid UTF-8 on the wire is decoded to U+FFFD just as
 * silently. None of these has a legitimate use in an identifier, a form field or a JSON value
 * here, so the edge refuses them with a 400 before any handler (ours or oidc-provider's) runs:
 * the path, the query string, the Host header, Basic credentials and the body.
 */

const HEX = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)

/** %XX sequences decoded to bytes (RFC 3986 §2.1); malformed ones are left as they are. */
export function percentDecode(raw: Buffer): Buffer {
  if (!raw.includes(0x25)) return raw
  const out = Buffer.allocUnsafe(raw.length)
  let j = 0
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!
    if (b === 0x25 && i + 2 < raw.length && HEX(raw[i + 1]!) && HEX(raw[i + 2]!)) {
      out[j++] = parseInt(String.fromCharCode(raw[i + 1]!, raw[i + 2]!), 16)
      i += 2
    } else {
      out[j++] = b
    }
  }
  return out.subarray(0, j)
}

/** Why these bytes are not storable text: a NUL byte, or not UTF-8 (overlong forms and surrogates included). */
export function bytesProblem(bytes: Buffer): string | undefined {
  if (bytes.includes(0)) return 'a NUL character'
  if (!isUtf8(bytes)) return 'bytes that are not valid UTF-8'
  return undefined
}

/** A URL component (path or query, as received) or a form body: raw and %-decoded bytes must be storable. */
export function encodedProblem(raw: Buffer): string | undefined {
  return bytesProblem(raw) ?? bytesProblem(percentDecode(raw))
}

/** Every string (keys included) of a parsed JSON value. */
export function valueProblem(v: unknown, depth = 0): string | undefined {
  if (typeof v === 'string') return textProblem(v)
  if (v === null || typeof v !== 'object' || depth > 64) return undefined
  if (Array.isArray(v)) {
    for (const x of v) {
      const p = valueProblem(x, depth + 1)
      if (p) return p
    }
    return undefined
  }
  for (const [k, x] of Object.entries(v)) {
    const p = textProblem(k) ?? valueProblem(x, depth + 1)
    if (p) return p
  }
  return undefined
}

// A JSON text can only smuggle NUL or a lone surrogate in through a \u escape (raw control
// characters are not valid JSON; raw surrogates are not valid UTF-8). Texts without one are
// clean once they are UTF-8, which keeps the check cheap on the decision hot path.
const SUSPECT_ESCAPE = /\\u(0000|[dD][89a-fA-F])/

/** Why a JSON body is not storable (undefined when fine or when it is not JSON: the parser says so). */
export function jsonBodyProblem(raw: Buffer): string | undefined {
  if (!isUtf8(raw)) return 'bytes that are not valid UTF-8'
  const text = raw.toString('utf8')
  if (!SUSPECT_ESCAPE.test(text)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined
  }
  return valueProblem(parsed)
}

export const refused = (where: string, problem: string) =>
  new AppError('invalid_request', `${where}: contains ${problem}, which cannot be accepted`, { status: 400 })

const checked = new WeakSet<Buffer>()

/** Throws the 400 when a request body (form or JSON, by content type) is not storable. */
export function assertStorableBody(ctx: Context, raw: Buffer) {
  if (checked.has(raw)) return
  const problem = ctx.is('application/json', '+json')
    ? jsonBodyProblem(raw)
    : ctx.is('application/x-www-form-urlencoded')
      ? encodedProblem(raw)
      : undefined
  if (problem) throw refused('the request body', problem)
  checked.add(raw)
}

// Bodies up to this size (declared by Content-Length) are read and checked at the edge, so
// that every route refuses them alike, whether or not it reads its body. Larger or chunked
// ones (policy uploads) are checked by the body readers (http/body.ts) under each route's limit.
const EDGE_BODY_LIMIT = 1024 * 1024

export type BodyReader = (ctx: Context, limit: number) => Promise<Buffer>

// RFC 9110 §7.2 / RFC 3986 §3.2: host [ ":" port ], port at most 65535. oidc-provider builds
// URLs from the Host header and fails with a 500 on one WHATWG URL cannot parse.
function hostProblem(host: string): boolean {
  if (!host) return false
  let url: URL
  try {
    url = new URL(`http://${host}`)
  } catch {
    return true
  }
  return Boolean(host.includes('@') || url.username || url.password || url.pathname !== '/' || url.search || url.hash)
}

/** RFC 6749 §2.3.1: client_id:client_secret, each form-urlencoded, then base64. */
function basicProblem(authorization: string): string | undefined {
  const m = /^basic +([A-Za-z0-9+/=._~-]+)$/i.exec(authorization)
  if (!m) return undefined
  const decoded = Buffer.from(m[1]!, 'base64')
  // Without the ':' it is not a credential pair at all: the route answers 401 as for any bad credential.
  return decoded.includes(0x3a) ? encodedProblem(decoded) : undefined
}

/**
 * The edge check, before any route: path, query string, Host (or X-Forwarded-Host behind a
 * trusted proxy), Basic client credentials and form/JSON bodies (read once with
 * `readBody`, which keeps them for the route's own reader). Throws the 400 (errors.ts renders
 * it as JSON in the OAuth error shape, or as a page for browsers).
 */
export function inputGuard(readBody: BodyReader): Middleware {
  return async (ctx, next) => {
    // Node hands over the request target as latin1: one char per byte received.
    const url = ctx.req.url ?? ''
    const q = url.indexOf('?')
    const pathProblem = encodedProblem(Buffer.from(q < 0 ? url : url.slice(0, q), 'latin1'))
    if (pathProblem) throw refused('the path', pathProblem)
    if (q >= 0) {
      const queryProblem = encodedProblem(Buffer.from(url.slice(q + 1), 'latin1'))
      if (queryProblem) throw refused('the query string', queryProblem)
    }
    // The header as sent (Koa's ctx.host drops userinfo and answers '' for what it cannot parse).
    // Host is one value (RFC 9110 §7.2); X-Forwarded-Host may list several, the first is used.
    const forwarded = ctx.app.proxy ? ctx.get('x-forwarded-host') : ''
    const host = forwarded ? forwarded.split(',')[0]!.trim() : ctx.get('host')
    if (hostProblem(host))
      throw new AppError('invalid_request', 'the Host header is not a valid host[:port]', { status: 400 })
    const authorization = ctx.get('authorization')
    const basic = authorization && basicProblem(authorization)
    if (basic) throw refused('the Basic credentials', basic)
    const declared = Number(ctx.get('content-length'))
    if (
      declared > 0 &&
      declared <= EDGE_BODY_LIMIT &&
      ctx.is('application/json', '+json', 'application/x-www-form-urlencoded')
    ) {
      assertStorableBody(ctx, await readBody(ctx, EDGE_BODY_LIMIT))
    }
    await next()
  }
}

const PROVIDER_BODY_LIMIT = 56 * 1024 // oidc-provider's own limit (shared/selective_body.js)

/**
 * Reads and checks a body bound for oidc-provider before it parses it. oidc-provider takes a
 * body that was already read from `req.body` (its selective_body falls back to it when the
 * stream is consumed), so it parses exactly the bytes checked here.
 */
export async function providerBody(ctx: Context, read: BodyReader) {
  if (ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.method === 'OPTIONS') return
  if (!ctx.is('application/json', 'application/x-www-form-urlencoded')) return
  const raw = await read(ctx, PROVIDER_BODY_LIMIT)
  assertStorableBody(ctx, raw)
  ;(ctx.req as typeof ctx.req & { body?: Buffer }).body = raw
}

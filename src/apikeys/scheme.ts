import type { Context } from 'koa'
import { AppError } from '../errors.ts'
import type { BearerScheme, Caller } from '../http/middleware/authn.ts'
import type { ClientIp } from '../http/client-ip.ts'
import { readRawBody } from '../http/body.ts'
import { looksLikeKey } from './format.ts'
import type { KeyVerifier, KeyEntry } from './verify.ts'
import type { SignedRequest } from './signatures.ts'

export function callerOfKey(entry: KeyEntry): Caller {
  const k = entry.record
  return {
    kind: 'api_key',
    id: k.ownerId,
    ...(k.ownerType === 'client' ? { clientId: k.ownerId } : {}),
    // What the key may do now: its scopes its owner still holds.
    scopes: new Set(entry.scopes),
    ...(entry.owner.stores ? { stores: entry.owner.stores } : {}),
    apiKey: { id: k.id, level: k.level },
  }
}

/**
 * The request as RFC 9421 sees it. `@target-uri` is the URI the client called: PUBLIC_URL's
 * origin plus the path and query (behind a proxy the socket's view would differ). The body is
 * buffered here (same 1 MiB limit as JSON routes) so Content-Digest can be checked; routes
 * then read the same bytes.
 */
export async function signedRequestOf(ctx: Context, publicUrl: string): Promise<SignedRequest> {
  return {
    method: ctx.method,
    targetUri: new URL(ctx.originalUrl, new URL(publicUrl).origin).toString(),
    header: (name) => {
      const v = ctx.req.headers[name]
      return Array.isArray(v) ? v.join(', ') : v
    },
    body: await readRawBody(ctx),
  }
}

/**
 * `Authorization: Bearer pcs_...` for every portcullis API. Failures are precise once the key
 * is known (expired, IP not allowed, signature problems) and carry RFC 6750 challenges; a rate
 * limit is a 429 with Retry-After.
 */
export function apiKeyBearerScheme(deps: { verify: KeyVerifier; clientIp: ClientIp; publicUrl: string }): BearerScheme {
  return {
    name: 'api_key',
    accepts: looksLikeKey,
    async verify(credential, ctx) {
      // Only signed requests need the body; the header test avoids buffering otherwise.
      const signed =
        ctx.get('signature-input') || ctx.get('signature') ? await signedRequestOf(ctx, deps.publicUrl) : undefined
      const r = await deps.verify(credential, { ip: deps.clientIp(ctx), request: signed })
      if (r.ok) return callerOfKey(r.entry)
      if (r.status === 429) ctx.set('Retry-After', String(r.retryAfter ?? 60))
      if (r.status === 401)
        ctx.set(
          'WWW-Authenticate',
          `Bearer realm="portcullis", error="invalid_token", error_description="${r.message.replace(/["\\]/g, '')}"`,
        )
      throw new AppError(r.code, r.message, { status: r.status })
    },
  }
}

import * as jose from 'jose'
import { API_SCOPE_NAMES } from './api-resource.ts'

export interface ApiTokenClaims {
  clientId: string
  subject: string
  scopes: string[]
  /** policy stores the client is limited to; undefined = all */
  stores?: string[]
  expiresAt: number
  /** set on tokens exchanged for an API key (RFC 8693): the key they stand for */
  apiKey?: { id: string; level: string }
  /** the token's id, for revocation (RFC 7009) */
  jti?: string
  /** RFC 8705 §3.1: bound to the client certificate with this SHA-256 thumbprint (cnf.x5t#S256) */
  certThumbprint?: string
}

/**
 * Verifies access tokens for portcullis's own API offline (RFC 9068 §4): signature against our
 * published keys, `typ` at+jwt, issuer, audience and expiry. No database query: a token revoked
 * at the revocation endpoint (RFC 7009) is refused through `isRevoked`, which answers from memory
 * that every instance keeps current (revoked-tokens.ts).
 */
export function apiTokenVerifier(opts: {
  issuer: string
  audience: string
  cacheSize?: number
  isRevoked?: (jti: string) => boolean
}) {
  const revoked = (c: ApiTokenClaims) => Boolean(c.jti && opts.isRevoked?.(c.jti))
  let jwks = jose.createLocalJWKSet({ keys: [] })
  // A PEP sends the same token with every decision request. The token is immutable, so a
  // verified one is remembered (until its exp) instead of re-running the signature check,
  // which would otherwise cost more than the decision itself. Bounded; cleared on key changes.
  const verified = new Map<string, ApiTokenClaims>()
  const cacheSize = opts.cacheSize ?? 10_000

  async function verifySignature(token: string): Promise<ApiTokenClaims | undefined> {
    try {
      const { payload } = await jose.jwtVerify(token, jwks, {
        issuer: opts.issuer,
        audience: opts.audience,
        typ: 'at+jwt',
        algorithms: ['RS256', 'ES256', 'EdDSA'],
      })
      // A DPoP-bound token (RFC 9449 §6) needs a proof our API does not take yet: refusing it is
      // safer than accepting it as a bearer token. A certificate-bound one (RFC 8705 §3) is
      // accepted here and its certificate checked by the caller (oidc/callers.ts verifyAccessToken).
      const cnf = payload.cnf as Record<string, unknown> | undefined
      let certThumbprint: string | undefined
      if (cnf !== undefined) {
        const keys = typeof cnf === 'object' && cnf ? Object.keys(cnf) : []
        if (keys.length !== 1 || typeof cnf['x5t#S256'] !== 'string') return undefined
        certThumbprint = cnf['x5t#S256']
      }
      if (typeof payload.client_id !== 'string' || typeof payload.exp !== 'number') return undefined
      const scopes =
        typeof payload.scope === 'string'
          ? payload.scope.split(' ').filter((s) => (API_SCOPE_NAMES as string[]).includes(s))
          : []
      const stores = Array.isArray(payload.authz_stores)
        ? payload.authz_stores.filter((s): s is string => typeof s === 'string')
        : undefined
      const apiKey =
        typeof payload.key_id === 'string' && typeof payload.key_level === 'string'
          ? { id: payload.key_id, level: payload.key_level }
          : undefined
      const jti = typeof payload.jti === 'string' ? payload.jti : undefined
      return {
        clientId: payload.client_id,
        subject: String(payload.sub ?? payload.client_id),
        scopes,
        stores,
        expiresAt: payload.exp,
        ...(apiKey ? { apiKey } : {}),
        ...(jti ? { jti } : {}),
        ...(certThumbprint ? { certThumbprint } : {}),
      }
    } catch {
      return undefined
    }
  }

  return {
    /** Called whenever the published keys change (start, rotation on any instance). */
    setKeys(keys: jose.JWK[]) {
      jwks = jose.createLocalJWKSet({ keys })
      verified.clear()
    },
    async verify(token: string): Promise<ApiTokenClaims | undefined> {
      const hit = verified.get(token)
      if (hit) {
        // Checked on every use: the token may have been revoked since it was cached.
        if (hit.expiresAt > Date.now() / 1000) return revoked(hit) ? undefined : hit
        verified.delete(token)
        return undefined
      }
      const claims = await verifySignature(token)
      if (claims) {
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!)
        verified.set(token, claims)
      }
      return claims && !revoked(claims) ? claims : undefined
    },
  }
}
export type ApiTokenVerifier = ReturnType<typeof apiTokenVerifier>

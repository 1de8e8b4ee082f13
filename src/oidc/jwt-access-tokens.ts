import * as jose from 'jose'
import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'

/**
 * Introspection (RFC 7662) and revocation (RFC 7009) of JWT access tokens (RFC 9068).
 *
 * oidc-provider never stores JWT access tokens and answers both endpoints with
 * `400 unsupported_token_type` for them (shared/reject_structured_tokens.js). That error is
 * raised only after the caller authenticated, so a post-middleware replaces it with the answer
 * the RFCs require: the token is verified offline against our own keys, and
 * - introspection: `{"active": true, ...claims}` for the client it was issued to or a client
 *   whose `resource_servers` lists its audience; `{"active": false}` for anyone else, and for
 *   a token that is expired, revoked, not ours or not a token at all (RFC 7662 §2.2);
 * - revocation: the client it was issued to revokes it (its jti is remembered until it
 *   expires, on every instance: revoked-tokens.ts); a public client presenting another's token
 *   gets the RFC's plain 200, a confidential one `invalid_request` (as for opaque tokens); an
 *   invalid or expired token is a 200 (RFC 7009 §2.2).
 */
export interface JwtRevocations {
  revoke(t: { jti: string; clientId: string; expiresAt: number }): Promise<void>
  isRevokedNow(jti: string): Promise<boolean>
  /** Remembers a JWT issued under a grant: revoking the grant revokes it (adapters.ts). */
  issuedUnderGrant(t: { jti: string; grantId: string; clientId: string; expiresAt: number }): Promise<void>
}

/**
 * oidc-provider's `formats.customizers.jwt`, awaited while a JWT access token is minted: one
 * issued under a grant (code flow, refresh, device) is recorded before the client receives it,
 * so a grant revoked at any later moment takes the token with it.
 */
export function recordGrantJwts(revocations: JwtRevocations) {
  return async (_ctx: unknown, token: object, jwt: { payload: object }) => {
    const grantId = (token as { grantId?: unknown }).grantId
    const { jti, exp, client_id: clientId } = jwt.payload as Record<string, unknown>
    if (
      typeof grantId !== 'string' ||
      typeof jti !== 'string' ||
      typeof exp !== 'number' ||
      typeof clientId !== 'string'
    )
      return
    await revocations.issuedUnderGrant({ jti, grantId, clientId, expiresAt: exp })
  }
}

interface IntrospectingClient {
  clientId: string
  clientAuthMethod?: string
  metadata(): Record<string, unknown>
}

/** RFC 7662 §2.1 policy: the token's own client, or a resource server for one of its audiences. */
export function mayIntrospect(client: IntrospectingClient, token: { clientId?: string; aud?: unknown }): boolean {
  if (token.clientId === client.clientId) return true
  if (client.clientAuthMethod === 'none') return false
  const served = client.metadata().resource_servers
  const audiences = Array.isArray(token.aud) ? token.aud : token.aud ? [token.aud] : []
  return Array.isArray(served) && audiences.some((a) => served.includes(a))
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth']

export function installJwtAccessTokens(
  provider: Provider,
  deps: {
    jwks: { keys: jose.JWK[] }
    revocations: JwtRevocations
    onRevoked?: (ctx: KoaContextWithOIDC, token: { kind: string; clientId: string; jti: string }) => void
  },
) {
  const publicKeys = deps.jwks.keys.map(
    (k) => Object.fromEntries(Object.entries(k).filter(([m]) => !PRIVATE_MEMBERS.includes(m))) as jose.JWK,
  )
  const keySet = jose.createLocalJWKSet({ keys: publicKeys })

  async function claimsOf(token: string): Promise<jose.JWTPayload | undefined> {
    try {
      const { payload } = await jose.jwtVerify(token, keySet, {
        issuer: provider.issuer,
        typ: 'at+jwt',
        algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      })
      if (typeof payload.jti !== 'string' || typeof payload.client_id !== 'string' || typeof payload.exp !== 'number')
        return undefined
      return payload
    } catch {
      return undefined
    }
  }

  async function introspect(ctx: KoaContextWithOIDC, client: IntrospectingClient, claims: jose.JWTPayload | undefined) {
    ctx.status = 200
    ctx.body = { active: false }
    if (!claims || !mayIntrospect(client, { clientId: claims.client_id as string, aud: claims.aud })) return
    if (await deps.revocations.isRevokedNow(claims.jti!)) return
    const cnf = claims.cnf as { jkt?: string } | undefined
    ctx.body = { ...claims, active: true, token_type: cnf?.jkt ? 'DPoP' : 'Bearer' }
  }

  async function revoke(ctx: KoaContextWithOIDC, client: IntrospectingClient, claims: jose.JWTPayload | undefined) {
    if (claims && claims.client_id !== client.clientId && client.clientAuthMethod !== 'none') {
      ctx.status = 400
      ctx.body = {
        error: 'invalid_request',
        error_description: 'client is not authorized to revoke the presented token',
      }
      return
    }
    ctx.status = 200
    ctx.body = ''
    if (!claims || claims.client_id !== client.clientId) return
    await deps.revocations.revoke({ jti: claims.jti!, clientId: claims.client_id, expiresAt: claims.exp! })
    deps.onRevoked?.(ctx, { kind: 'AccessToken', clientId: claims.client_id, jti: claims.jti! })
  }

  provider.use(async (koa, next) => {
    await next()
    const ctx = koa as KoaContextWithOIDC
    const route = ctx.oidc?.route
    if (route !== 'introspection' && route !== 'revocation') return
    if (ctx.status !== 400 || (ctx.body as { error?: string } | undefined)?.error !== 'unsupported_token_type') return
    // The error comes after client authentication: the client here has authenticated.
    const client = ctx.oidc.client as IntrospectingClient | undefined
    const token = ctx.oidc.params?.token
    if (!client || typeof token !== 'string') return
    const claims = await claimsOf(token)
    if (route === 'introspection') await introspect(ctx, client, claims)
    else await revoke(ctx, client, claims)
  })
}

import type Provider from 'oidc-provider'
import type { KoaContextWithOIDC } from 'oidc-provider'

/**
 * What happens to an authorization code after a failed redemption, beyond oidc-provider's own
 * rules (which consume a code only on success, and revoke the grant only when a consumed code
 * is presented again within its lifetime):
 *
 * - A failed attempt by the client the code was issued to (wrong `code_verifier`, wrong
 *   `redirect_uri`, ...) consumes the code: it cannot be retried with other values (RFC 9700
 *   §2.1.1 / §4.8: a code is a one-shot credential; an attacker must not get to guess the
 *   verifier), and presenting it again revokes the grant like any reuse.
 * - Reusing a consumed code after it expired revokes what was issued with it, exactly as reuse
 *   within its lifetime does (RFC 6749 §4.1.2: "SHOULD revoke (when possible) all tokens
 *   previously issued based on that authorization code"). The adapters keep code records past
 *   their expiry for this (adapters.ts `retainLonger`).
 *
 * Only `invalid_grant` failures count: a DPoP nonce challenge (`use_dpop_nonce`) is a normal
 * retry and must not burn the code.
 */
export function installCodeRedemptionRules(provider: Provider) {
  provider.use(async (koa, next) => {
    await next()
    const ctx = koa as KoaContextWithOIDC
    if (ctx.oidc?.route !== 'token' || ctx.oidc.params?.grant_type !== 'authorization_code') return
    if (ctx.status !== 400 || (ctx.body as { error?: string } | undefined)?.error !== 'invalid_grant') return
    const client = ctx.oidc.client
    const value = ctx.oidc.params.code
    if (!client || typeof value !== 'string' || !value) return
    const code = await provider.AuthorizationCode.find(value, { ignoreExpiration: true })
    if (!code || code.clientId !== client.clientId) return
    // `consumed` is set by the adapter once the code was redeemed (oidc-provider's own flag).
    if ((code as unknown as { consumed?: number }).consumed) await revokeGrant(provider, ctx, code.grantId)
    else if (!code.isExpired) await code.consume()
  })
}

async function revokeGrant(provider: Provider, ctx: KoaContextWithOIDC, grantId: string | undefined) {
  if (!grantId) return
  await Promise.all([
    provider.AccessToken.revokeByGrantId(grantId),
    provider.RefreshToken.revokeByGrantId(grantId),
    provider.AuthorizationCode.revokeByGrantId(grantId),
  ])
  const grant = await provider.Grant.find(grantId)
  if (!grant) return // oidc-provider revoked it already (reuse within the code's lifetime)
  await grant.destroy()
  provider.emit('grant.revoked', ctx, grantId)
}

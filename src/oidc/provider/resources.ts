import { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import { API_SCOPE_NAMES } from '../api-resource.ts'
import { withinClientScope } from '../client-scopes.ts'
import { apiKeyClaimsOf } from '../apikey-exchange.ts'
import { exchangeClaimsOf } from '../token-exchange.ts'
import { CONSOLE_CLIENT_ID } from '../login-policy.ts'
import type { ProviderDeps } from './deps.ts'

export type ResourceServerInfo = (indicator: string, client: { scope?: string } | undefined) => Promise<ResourceServer>

/**
 * The resource's scopes within the client's scope (client-scopes.ts): every token for a
 * resource — code, refresh, device, client credentials, API key exchange — carries only
 * scopes of the resource server this returns, so a client never exceeds its registration
 * even with a grant from before its `scope` was narrowed.
 */
export function resourceServerInfo(deps: Pick<ProviderDeps, 'config' | 'resources'>, API: string): ResourceServerInfo {
  const { config } = deps
  return async function resourceServerInfo(indicator, client) {
    if (indicator === API) {
      return {
        scope: withinClientScope(API_SCOPE_NAMES, client?.scope).join(' '),
        audience: API,
        accessTokenTTL: config.ACCESS_TOKEN_TTL,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }
    }
    const r = await deps.resources.find(indicator)
    if (!r) throw new errors.InvalidTarget(`unknown resource indicator ${indicator}`)
    return {
      scope: withinClientScope(r.scopes, client?.scope).join(' '),
      audience: r.indicator,
      accessTokenTTL: r.accessTokenTtl,
      // RFC 9068 JWT access tokens, or opaque (introspect to learn what they mean).
      accessTokenFormat: r.accessTokenFormat,
      ...(r.accessTokenFormat === 'jwt' ? { jwt: { sign: { alg: r.accessTokenSigningAlg } } } : {}),
    }
  }
}

type ResourceIndicators = NonNullable<NonNullable<Configuration['features']>['resourceIndicators']>

/** RFC 8707 resource indicators: which resource a token is for, and what it may carry there. */
export function resourceIndicators(
  deps: Pick<ProviderDeps, 'users' | 'holdings' | 'holdsAdminRole'>,
  API: string,
  info: ResourceServerInfo,
): ResourceIndicators {
  return {
    enabled: true,
    // A client that asks for no resource gets an opaque token for userinfo; with exactly one
    // requested resource, that one.
    // A client that asks only for portcullis API scopes gets a token for our API.
    defaultResource: async (ctx, _client, oneOf) => {
      if (oneOf) return oneOf
      const requested = String(ctx.oidc.params?.scope ?? '').split(' ')
      return requested.some((s) => (API_SCOPE_NAMES as string[]).includes(s)) ? API : undefined
    },
    useGrantedResource: async () => true,
    getResourceServerInfo: async (ctx, indicator, client) => {
      const resource = await info(indicator, client)
      // Issue 10 §1: a user's token carries only the scopes the user's roles hold now. The
      // token endpoint re-reads the grant (code, refresh, device code): filtering here
      // covers them all, and a revoked role stops at the next refresh.
      const accountId = ctx.oidc.account?.accountId
      if (accountId && client?.clientId === CONSOLE_CLIENT_ID && indicator === API) {
        const admin = deps.holdsAdminRole ? await deps.holdsAdminRole(accountId) : false
        return { ...resource, scope: admin ? 'admin' : '' }
      }
      if (!accountId || !deps.holdings) return resource
      const held =
        (await deps.holdings((await deps.users.findById(accountId))?.roles ?? [])).byResource.get(indicator) ??
        new Set<string>()
      return {
        ...resource,
        scope: String(resource.scope ?? '')
          .split(' ')
          .filter((s) => held.has(s))
          .join(' '),
      }
    },
  }
}

/**
 * Tokens for our API carry the client's store restriction, so checks need no lookup.
 * Tokens exchanged for an API key name the key (key_id, key_level).
 */
export function extraTokenClaims(API: string): NonNullable<Configuration['extraTokenClaims']> {
  return async function extraTokenClaims(_ctx: KoaContextWithOIDC, token) {
    const fromKey = { ...apiKeyClaimsOf(token), ...exchangeClaimsOf(token) }
    const resourceServer = (token as { resourceServer?: { audience?: string } }).resourceServer
    if (resourceServer?.audience !== API) return fromKey
    const client = (token as { client?: { metadata(): Record<string, unknown> } }).client
    const stores = client?.metadata().authz_stores
    return Array.isArray(stores) ? { ...fromKey, authz_stores: stores } : fromKey
  }
}

/**
 * What a registered client may ask for: its `scope` metadata (RFC 7591 §2), or — when it has
 * none — the OpenID scopes only. oidc-provider treats a client without `scope` as allowed every
 * scope the server knows (management and resource scopes included), so every client the
 * provider loads from the database carries its effective `scope` (adapters.ts), and the
 * provider enforces it at the authorization, PAR, device authorization and client credentials
 * endpoints; resourceServerInfo (provider/resources.ts) applies it again to every token for a resource,
 * refresh and API key exchange included.
 */

/** OIDC Core §5.4 scopes every client may ask for; offline_access (§11) only with refresh tokens. */
export const DEFAULT_CLIENT_SCOPES = ['openid', 'profile', 'email'] as const

/** oidc-provider's (and RFC 7591 §2's) default grant_types. */
const grantTypesOf = (metadata: Record<string, unknown>) =>
  Array.isArray(metadata.grant_types) ? (metadata.grant_types as unknown[]).map(String) : ['authorization_code']

/** The scope a client without `scope` metadata gets. */
export function defaultClientScope(metadata: Record<string, unknown>): string {
  return [
    ...DEFAULT_CLIENT_SCOPES,
    ...(grantTypesOf(metadata).includes('refresh_token') ? ['offline_access'] : []),
  ].join(' ')
}

/** The client's registered scope, or the default when it has none (or only whitespace). */
export function effectiveClientScope(metadata: Record<string, unknown>): string {
  const scope = metadata.scope
  if (typeof scope === 'string' && scope.trim()) return scope.split(' ').filter(Boolean).join(' ')
  return defaultClientScope(metadata)
}

/** The scopes of `offered` the client may hold; all of them for a client without a ceiling (the built-in ones). */
export function withinClientScope(offered: string[], clientScope: string | undefined): string[] {
  if (clientScope === undefined) return offered
  const allowed = new Set(clientScope.split(' '))
  return offered.filter((s) => allowed.has(s))
}

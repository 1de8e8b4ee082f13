import type Provider from 'oidc-provider'
import { errors, type ClientMetadata, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import type { KeyVerifier } from '../apikeys/verify.ts'
import type { ClientIp } from '../http/client-ip.ts'

/**
 * Exchanging an API key for a short-lived JWT access token (issue 5 item 4), as an OAuth 2.0
 * Token Exchange (RFC 8693) at the token endpoint, so services downstream verify the caller
 * offline against the JWKS instead of calling /apikeys/v1/verify.
 *
 * - subject_token: the key (`pcs_...`); subject_token_type: API_KEY_TOKEN_TYPE (RFC 8693 §3
 *   lets a server define its own token type URI).
 * - resource (RFC 8707): a registered resource with JWT access tokens, or portcullis's own API
 *   (the default). scope: a subset of the key's scopes that the resource knows (default: all
 *   of them).
 * - The client is whoever calls the token endpoint with this grant: the built-in public client
 *   APIKEY_EXCHANGE_CLIENT_ID for a key holder without client credentials, or any client whose
 *   grant_types include the grant. The key is the credential either way.
 * - Only LOW and MEDIUM keys: a bearer JWT would carry a HIGH key's access out of its IP
 *   allowlist and a CRITICAL key's out of its signed requests.
 * - The token lives at most APIKEY_EXCHANGE_TTL seconds and never past the key's expiry. It is
 *   not revoked with the key (it is verified offline); the short lifetime bounds that.
 */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange'
export const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api-key'
export const APIKEY_EXCHANGE_CLIENT_ID = 'apikey-exchange'
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token'
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
const EXCHANGEABLE_LEVELS = new Set(['LOW', 'MEDIUM'])
// oidc-provider's InvalidGrant always says "grant request is invalid" (the reason goes to a
// detail that is not sent). The key's holder needs the reason, as /apikeys/v1 gives it.
const invalidGrant = (description: string) => new errors.CustomOIDCProviderError('invalid_grant', description)

/** The built-in public client key holders exchange with (no secret: the key is the secret). */
export const apiKeyExchangeClient: ClientMetadata = {
  client_id: APIKEY_EXCHANGE_CLIENT_ID,
  client_name: 'API key exchange',
  token_endpoint_auth_method: 'none',
  grant_types: [TOKEN_EXCHANGE_GRANT],
  response_types: [],
  redirect_uris: [],
}

/** Claims the exchanged token carries beyond RFC 9068's: which key it came from. */
const exchangedClaims = new WeakMap<object, { key_id: string; key_level: string }>()
export const apiKeyClaimsOf = (token: object) => exchangedClaims.get(token)

export interface ApiKeyExchangeDeps {
  verify: KeyVerifier
  clientIp: ClientIp
  /** APIKEY_EXCHANGE_TTL */
  maxTtl: number
  /**
   * The resource server for an indicator: the provider's own resourceIndicators lookup, its
   * scopes limited to the client's registered scope (client-scopes.ts).
   */
  resourceServer(ctx: KoaContextWithOIDC, indicator: string, client: { scope?: string }): Promise<ResourceServer>
  defaultResource: string
  onExchanged?: (
    ctx: KoaContextWithOIDC,
    e: { keyId: string; owner: string; resource: string; scope: string; expiresIn: number },
  ) => void
  /**
   * The exchange of a user's access token (token-exchange.ts), when offered: the grant type is
   * registered once, here, and dispatched on subject_token_type.
   */
  accessTokens?: (ctx: KoaContextWithOIDC) => Promise<void>
}

export function registerApiKeyExchange(provider: Provider, deps: ApiKeyExchangeDeps) {
  const params = [
    'subject_token',
    'subject_token_type',
    'requested_token_type',
    'scope',
    'resource',
    'actor_token',
    'actor_token_type',
    'audience',
  ]
  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: KoaContextWithOIDC) => {
      const p = ctx.oidc.params as Record<string, string | string[] | undefined>
      if (typeof p.subject_token !== 'string' || !p.subject_token)
        throw new errors.InvalidRequest('missing required parameter subject_token')
      if (deps.accessTokens && (p.subject_token_type === ACCESS_TOKEN_TYPE || p.subject_token_type === JWT_TOKEN_TYPE))
        return deps.accessTokens(ctx)
      if (p.subject_token_type !== API_KEY_TOKEN_TYPE) {
        throw new errors.InvalidRequest(
          `subject_token_type must be ${API_KEY_TOKEN_TYPE}${deps.accessTokens ? ` or ${ACCESS_TOKEN_TYPE}` : ''}`,
        )
      }
      if (
        p.requested_token_type !== undefined &&
        p.requested_token_type !== ACCESS_TOKEN_TYPE &&
        p.requested_token_type !== JWT_TOKEN_TYPE
      ) {
        throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`)
      }
      // RFC 8693 §2.1: delegation (actor_token) and the `audience` parameter are not offered here.
      if (p.actor_token !== undefined || p.actor_token_type !== undefined)
        throw new errors.InvalidRequest('actor_token is not supported')
      if (p.audience !== undefined)
        throw new errors.InvalidRequest('use resource (RFC 8707) rather than audience to name the API')
      if (Array.isArray(p.resource))
        throw new errors.InvalidTarget('only a single resource indicator value is supported for this grant type')

      const r = await deps.verify(p.subject_token, { ip: deps.clientIp(ctx) })
      if (!r.ok) {
        if (r.code === 'signature_required')
          throw invalidGrant('keys that sign their requests cannot be exchanged for bearer tokens')
        throw invalidGrant(r.message)
      }
      const key = r.entry.record
      if (!EXCHANGEABLE_LEVELS.has(key.level)) {
        throw invalidGrant(
          `${key.level} keys cannot be exchanged: a bearer token would escape their IP allowlist or signed requests`,
        )
      }

      // A service account's key acts as that client, so the client's registered scope bounds it;
      // a user's key acts through the client that asked, which is bounded by its own scope (the
      // built-in exchange client has no scope of its own: the key's scopes are the limit).
      const owner = key.ownerType === 'client' ? await provider.Client.find(key.ownerId) : undefined
      if (key.ownerType === 'client' && !owner)
        throw invalidGrant('the service account that owns this key no longer exists')
      const indicator = p.resource ?? deps.defaultResource
      const info = await deps.resourceServer(ctx, indicator, owner ?? ctx.oidc.client!)
      if (info.accessTokenFormat !== 'jwt')
        throw new errors.InvalidTarget(
          'API keys are exchanged only for JWT access tokens; this resource uses opaque tokens',
        )
      const known = new Set(
        String(info.scope ?? '')
          .split(' ')
          .filter(Boolean),
      )
      // The key's scopes its owner still holds, and for a user only those held at this resource
      // (issue 10 §1: a key never carries more than its owner holds at the time of use).
      const heldHere = r.entry.owner.byResource
        ? (r.entry.owner.byResource.get(indicator) ?? new Set<string>())
        : undefined
      const grantable = r.entry.scopes.filter((s) => known.has(s) && (!heldHere || heldHere.has(s)))
      const requested = typeof p.scope === 'string' ? p.scope.split(' ').filter(Boolean) : undefined
      if (requested) {
        const refused = requested.filter((s) => !grantable.includes(s))
        if (refused.length)
          throw new errors.InvalidScope(
            `the key (within its client's registered scope) does not grant ${refused.join(' ')} for this resource (or its owner no longer holds it)`,
            refused.join(' '),
          )
      }
      const scopes = requested ?? grantable
      if (!scopes.length) throw new errors.InvalidScope('the key grants none of the scopes of this resource', '')

      const remaining = Math.floor((key.expiresAt.getTime() - Date.now()) / 1000)
      const ttl = Math.max(1, Math.min(info.accessTokenTTL ?? deps.maxTtl, deps.maxTtl, remaining))
      const resourceServer = new provider.ResourceServer(indicator, { ...info, accessTokenTTL: ttl })

      // A service account's key acts as that client (sub = client_id = the account); a user's
      // key as the user, through the client that asked.
      const token = owner
        ? new provider.ClientCredentials({ client: owner, scope: scopes.join(' ') })
        : // No grant: the token stands alone (a JWT, verified offline) and nothing refreshes it.
          new provider.AccessToken({
            accountId: key.ownerId,
            client: ctx.oidc.client!,
            scope: scopes.join(' '),
            gty: 'token_exchange',
          } as unknown as ConstructorParameters<typeof provider.AccessToken>[0])
      token.resourceServer = resourceServer
      exchangedClaims.set(token, { key_id: key.id, key_level: key.level })
      ctx.oidc.entity(key.ownerType === 'client' ? 'ClientCredentials' : 'AccessToken', token)
      const value = await token.save()
      deps.onExchanged?.(ctx, {
        keyId: key.id,
        owner: `${key.ownerType}:${key.ownerId}`,
        resource: indicator,
        scope: scopes.join(' '),
        expiresIn: ttl,
      })

      ctx.set('Cache-Control', 'no-store')
      ctx.body = {
        access_token: value,
        // RFC 8693 §2.2.1
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: token.expiration,
        scope: scopes.join(' '),
      }
    },
    params,
    ['resource'],
  )
}

import type Provider from 'oidc-provider'
import { installHashedClientSecrets, installExactClientAuth } from '../client-secrets.ts'
import { installUnavailableResponses } from '../unavailable.ts'
import { installJwtAccessTokens } from '../jwt-access-tokens.ts'
import { installCodeRedemptionRules } from '../code-redemption.ts'
import { installCorsPreflight } from '../cors.ts'
import { installAuthorizationPost } from '../authorization-post.ts'
import { installClientIpAllowlists } from '../client-ip-allowlist.ts'
import { registerApiKeyExchange } from '../apikey-exchange.ts'
import { accessTokenExchange } from '../token-exchange.ts'
import { installRequestUris } from '../request-objects.ts'
import { installRegistrationResponses } from '../dynamic-registration.ts'
import { installFrontchannelLogout } from '../frontchannel-logout.ts'
import type { ResourceServerInfo } from './resources.ts'
import type { ProviderDeps } from './deps.ts'

/**
 * Our rules on top of oidc-provider, in the order they wrap its requests (each file says why it
 * exists): outage responses first, so a database or Redis outage is a 503, not a 500.
 */
export function installExtensions(provider: Provider, deps: ProviderDeps, API: string, info: ResourceServerInfo) {
  const { config } = deps
  // first, so it wraps everything below: a database or Redis outage is a 503, not a 500
  installUnavailableResponses(provider)
  installHashedClientSecrets(provider)
  installExactClientAuth(provider)
  installCodeRedemptionRules(provider)
  installAuthorizationPost(provider)
  installFrontchannelLogout(provider, deps.onEvent && ((ctx, n) => deps.onEvent!('frontchannel.notified', ctx, n)))
  if (config.REQUEST_OBJECTS === 'on') installRequestUris(provider)
  if (config.DYNAMIC_REGISTRATION !== 'off') installRegistrationResponses(provider)
  installCorsPreflight(provider, deps.webOrigins ?? (async () => new Set()))
  if (deps.revocations) {
    const emit = deps.onEvent
    installJwtAccessTokens(provider, {
      jwks: deps.jwks,
      revocations: deps.revocations,
      onRevoked: emit && ((ctx, token) => emit('revocation.success', ctx, token)),
    })
  }
  if (deps.apiKeyExchange && deps.clientIp) installTokenExchanges(provider, deps, API, info)
  if (deps.clientIp) {
    const emit = deps.onEvent
    installClientIpAllowlists(provider, {
      clientIp: deps.clientIp,
      onDenied: emit && ((d) => emit('client.ip_denied', d.ctx, d)),
    })
  }
}

/** RFC 8693 token exchange: API keys for JWTs, and (with revocations) a user's token for another API. */
function installTokenExchanges(provider: Provider, deps: ProviderDeps, API: string, info: ResourceServerInfo) {
  const revocations = deps.revocations
  const accessTokens =
    deps.tokenExchange && revocations
      ? accessTokenExchange(provider, {
          ...deps.tokenExchange,
          jwks: deps.jwks,
          isRevoked: (jti) => revocations.isRevokedNow(jti),
          resourceServer: (_ctx, indicator, client) => info(indicator, client),
          heldAt: async (accountId, indicator) => {
            const user = await deps.users.findById(accountId)
            if (!user || user.disabled) return undefined
            return deps.holdings
              ? ((await deps.holdings(user.roles)).byResource.get(indicator) ?? new Set<string>())
              : new Set<string>()
          },
        })
      : undefined
  registerApiKeyExchange(provider, {
    ...deps.apiKeyExchange!,
    accessTokens,
    clientIp: deps.clientIp!,
    defaultResource: API,
    resourceServer: (_ctx, indicator, client) => info(indicator, client),
  })
}

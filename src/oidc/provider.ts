import Provider, { type Configuration } from 'oidc-provider'
import type { Config } from '../config/env.ts'
import { clientBasedCORS } from './cors.ts'
import { recordGrantJwts } from './jwt-access-tokens.ts'
import { API_SCOPE_NAMES, apiIndicator } from './api-resource.ts'
import { SCOPE_CLAIMS } from './standard-claims.ts'
import { LOCALES } from '../views/i18n.ts'
import { ACR_MFA, ACR_PWD, loginPolicy } from './login-policy.ts'
import { OIDC_SCOPES, type ProviderDeps } from './provider/deps.ts'
import { mtlsEndpointAliases } from './provider/mtls.ts'
import { frontchannelDiscovery } from './frontchannel-logout.ts'
import { findAccount, firstPartyClients, loadExistingGrant } from './provider/accounts.ts'
import { clientAuthMethods, enabledJWA, extraClientMetadata, pkce } from './provider/client-metadata.ts'
import { extraTokenClaims, resourceServerInfo, type ResourceServerInfo } from './provider/resources.ts'
import { features } from './provider/features.ts'
import { renderError } from './provider/pages.ts'
import { installExtensions } from './provider/extensions.ts'
import { subscribeEvents } from './provider/events.ts'

export { OIDC_SCOPES, type ProviderDeps }

/** The provider type, for modules outside src/oidc (which do not import oidc-provider). */
export type OidcProvider = Provider

/** OIDC Discovery §3 beyond what oidc-provider derives from the configuration. */
function discovery(deps: ProviderDeps): Configuration['discovery'] {
  const { config } = deps
  return {
    // OIDC Discovery §3: the languages the pages speak (ui_locales picks one; views/i18n.ts).
    ui_locales_supported: [...LOCALES],
    // OpenID Connect Prompt Create 1.0 §4.1 (and Discovery 1.0 §3): the prompt values accepted.
    prompt_values_supported: [
      'none',
      'login',
      'consent',
      ...(deps.login && config.REGISTRATION_ENABLED ? ['create'] : []),
    ],
    // RFC 8705 §5, only where a client certificate can reach us (TLS listener or proxy header)
    ...(deps.clientCert ? { mtls_endpoint_aliases: mtlsEndpointAliases(config.PUBLIC_URL) } : {}),
    ...frontchannelDiscovery,
  }
}

/** Token and session lifetimes; an access token lives as long as its resource server says. */
function ttl(config: Readonly<Config>): Configuration['ttl'] {
  return {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
    AuthorizationCode: config.AUTHORIZATION_CODE_TTL,
    IdToken: config.ID_TOKEN_TTL,
    RefreshToken: config.REFRESH_TOKEN_TTL,
    Session: config.SESSION_TTL,
    Interaction: config.INTERACTION_TTL,
    Grant: config.REFRESH_TOKEN_TTL,
    DeviceCode: config.DEVICE_CODE_TTL,
  }
}

/**
 * oidc-provider refuses outgoing requests (logout tokens, jwks_uri) to special-use addresses
 * (SSRF protection); OUTBOUND_PRIVATE_ADDRESSES lifts that for RPs on a private network.
 */
const outboundFetch = (config: Readonly<Config>) =>
  config.OUTBOUND_PRIVATE_ADDRESSES
    ? {
        fetch: (url: string | URL | Request, options?: RequestInit) => {
          const { dispatcher: _protected, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown }
          return globalThis.fetch(url, rest)
        },
      }
    : {}

/**
 * The oidc-provider configuration: the only place that knows oidc-provider's options, each
 * concern in its own file under provider/. Every feature advertised in discovery is tested end
 * to end with openid-client.
 */
function configuration(deps: ProviderDeps, API: string, info: ResourceServerInfo): Configuration {
  const { config } = deps
  return {
    adapter: deps.adapter,
    discovery: discovery(deps),
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    findAccount: findAccount(deps.users),
    // Strong login (issue 3): password only, or password + a second factor / a passkey.
    acrValues: [ACR_PWD, ACR_MFA],
    clients: firstPartyClients(config, Boolean(deps.apiKeyExchange)),
    loadExistingGrant: loadExistingGrant(API),
    claims: { acr: null, sid: null, ...SCOPE_CLAIMS },
    scopes: [...new Set([...OIDC_SCOPES, ...API_SCOPE_NAMES, ...deps.resourceScopes])],
    clientAuthMethods: clientAuthMethods(deps.clientCert),
    enabledJWA,
    extraClientMetadata: extraClientMetadata(config),
    pkce,
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED in every authorization request, even when the
    // client registered exactly one (and so at the token endpoint, RFC 6749 §4.1.3).
    allowOmittingSingleRegisteredRedirectUri: false,
    // Refresh tokens rotate on every use; oidc-provider revokes the whole grant when a used
    // one is presented again (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    ttl: ttl(config),
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      ...(deps.login ? { policy: loginPolicy(deps.login, { create: config.REGISTRATION_ENABLED }) } : {}),
    },
    features: features(deps, API, info),
    extraTokenClaims: extraTokenClaims(API),
    renderError,
    // Only registered web origins, only on the endpoints a browser app needs (cors.ts).
    clientBasedCORS,
    ...(deps.revocations ? { formats: { customizers: { jwt: recordGrantJwts(deps.revocations) } } } : {}),
    ...outboundFetch(config),
    // RFC 9700 §2.1.2: no implicit grant; 'none' lets a client start a session without tokens.
    responseTypes: ['code', 'none'],
  }
}

/**
 * The provider: its configuration, our rules installed on it (provider/extensions.ts), and its
 * events passed on (provider/events.ts).
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const API = apiIndicator(deps.config.PUBLIC_URL)
  const info = resourceServerInfo(deps, API)
  const provider = new Provider(deps.config.PUBLIC_URL, configuration(deps, API, info))
  provider.proxy = deps.config.TRUST_PROXY
  installExtensions(provider, deps, API, info)
  subscribeEvents(provider, deps)
  return provider
}

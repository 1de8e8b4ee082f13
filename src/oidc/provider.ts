import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider'
import type { JWK } from 'jose'
import type { Config } from '../config/env.ts'
import type { UserService } from '../identity/users.ts'
import type { ResourceQueries } from './queries/resources.ts'
import type { AdapterFactory } from './adapters.ts'
import { installHashedClientSecrets, installExactClientAuth } from './client-secrets.ts'
import { installUnavailableResponses } from './unavailable.ts'
import { installJwtAccessTokens, mayIntrospect, recordGrantJwts, type JwtRevocations } from './jwt-access-tokens.ts'
import { installCodeRedemptionRules } from './code-redemption.ts'
import { clientBasedCORS, installCorsPreflight, webOriginsProblem } from './cors.ts'
import { installAuthorizationPost } from './authorization-post.ts'
import { allowedIpsProblem, installClientIpAllowlists } from './client-ip-allowlist.ts'
import type { ClientIp } from '../http/client-ip.ts'
import { certificateSubjectMatches, type ClientCertOf } from '../http/client-cert.ts'
import type { KeyVerifier } from '../apikeys/verify.ts'
import {
  apiKeyClaimsOf,
  apiKeyExchangeClient,
  registerApiKeyExchange,
  type ApiKeyExchangeDeps,
} from './apikey-exchange.ts'
import { accessTokenExchange, exchangeClaimsOf, type TokenExchangeDeps } from './token-exchange.ts'
import { API_SCOPE_NAMES, apiIndicator } from './api-resource.ts'
import { withinClientScope } from './client-scopes.ts'
import { addressAndPhoneClaims, assertClaimsWithinClientScope, SCOPE_CLAIMS } from './standard-claims.ts'
import { installRequestUris, requestUrisProblem } from './request-objects.ts'
import {
  assertDynamicRegistration,
  installRegistrationResponses,
  registrationFeatures,
} from './dynamic-registration.ts'
import type { HoldingsOf } from './holdings.ts'
import { encryptionFeature, encryptionJwa } from './encryption.ts'
import * as frontchannel from './frontchannel-logout.ts'
import {
  deviceConfirmPage,
  deviceInputPage,
  deviceSuccessPage,
  loggedOutPage,
  logoutPage,
} from './interactions/views.ts'
import { explainedErrorPage } from '../views/errors.ts'
import { LOCALES, preferUiLocales, t } from '../views/i18n.ts'
import {
  ACCOUNT_CLIENT_ID,
  CONSOLE_CLIENT_ID,
  ACR_MFA,
  ACR_PWD,
  loginPolicy,
  sessionToken,
  type LoginHooks,
} from './login-policy.ts'

export interface ProviderDeps {
  config: Readonly<Config>
  adapter: AdapterFactory
  jwks: { keys: JWK[] }
  cookieKeys: string[]
  users: UserService
  /** the resource lookup (cached in memory, invalidated by the configuration notice) */
  resources: Pick<ResourceQueries, 'find'>
  /** Scopes of the registered API resources: clients may list them in their `scope`. */
  resourceScopes: string[]
  /** What a user's roles hold (holdings.ts): user tokens carry only those resource scopes. */
  holdings?: HoldingsOf
  onEvent?: (name: string, ...args: unknown[]) => void
  /** Strong login (issue 3): sign-in sessions and MFA step-up checks. */
  login?: LoginHooks
  /** The client IP of a request, for clients with `allowed_ips` (client-ip-allowlist.ts). */
  clientIp?: ClientIp
  /**
   * The client certificate of a request (http/client-cert.ts); given only when one can reach
   * us (TLS_CERT/TLS_KEY or MTLS_CERT_HEADER). Turns on mutual TLS (RFC 8705).
   */
  clientCert?: ClientCertOf
  /** API keys exchanged for JWT access tokens at the token endpoint (apikey-exchange.ts). */
  apiKeyExchange?: { verify: KeyVerifier; maxTtl: number; onExchanged?: ApiKeyExchangeDeps['onExchanged'] }
  /** A user's access token exchanged for a narrower one for another API (token-exchange.ts). */
  tokenExchange?: Pick<TokenExchangeDeps, 'decide' | 'maxTtl' | 'onExchanged' | 'onRefused'>
  /** Revoked JWT access tokens (RFC 7009), shared by every instance (revoked-tokens.ts). */
  revocations?: JwtRevocations
  /** Every web origin some client registered (cors.ts), for CORS preflights. */
  webOrigins?: () => Promise<ReadonlySet<string>>
  /**
   * Whether a user holds some admin role in the `system` store: the console client's token
   * carries the `admin` scope only then (its authority is the store's, not the user's roles).
   */
  holdsAdminRole?: (userId: string) => Promise<boolean>
}

/** The provider type, for modules outside src/oidc (which do not import oidc-provider). */
export type OidcProvider = Provider

/** Scopes portcullis knows; API scopes come from registered resources. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'roles', 'address', 'phone']
const ASYMMETRIC: ('RS256' | 'ES256' | 'EdDSA')[] = ['RS256', 'ES256', 'EdDSA']

/**
 * RFC 8705 §5: where a client doing mutual TLS sends its requests. Every endpoint takes a
 * client certificate where it listens (the HTTPS listener asks for one on every connection, or
 * the proxy passes it), so the aliases are the endpoints themselves; advertised so that clients
 * which look for them find them.
 */
function mtlsEndpointAliases(issuer: string) {
  return {
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/token/revocation`,
    introspection_endpoint: `${issuer}/token/introspection`,
    userinfo_endpoint: `${issuer}/me`,
    pushed_authorization_request_endpoint: `${issuer}/request`,
    device_authorization_endpoint: `${issuer}/device/auth`,
  }
}

/**
 * Mutual TLS (RFC 8705): tls_client_auth (§2.1, a certificate from a TLS_CLIENT_CA CA whose
 * subject matches the registered tls_client_auth_* value), self_signed_tls_client_auth (§2.2,
 * a certificate in the client's `jwks`), and certificate-bound access tokens (§3, cnf.x5t#S256,
 * for clients registered with tls_client_certificate_bound_access_tokens).
 */
function mtlsFeature(clientCert: ClientCertOf) {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx: KoaContextWithOIDC) => clientCert(ctx.req)?.pem,
    certificateAuthorized: (ctx: KoaContextWithOIDC) => clientCert(ctx.req)?.authorized === true,
    certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
      const cert = clientCert(ctx.req)
      return Boolean(cert && certificateSubjectMatches(cert.x509, property, expected))
    },
  }
}

/**
 * The oidc-provider configuration: the only place that knows oidc-provider's options. Every
 * feature advertised in discovery is tested end to end with openid-client.
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config } = deps
  const API = apiIndicator(config.PUBLIC_URL)
  // The resource's scopes within the client's scope (client-scopes.ts): every token for a
  // resource — code, refresh, device, client credentials, API key exchange — carries only
  // scopes of the resource server this returns, so a client never exceeds its registration
  // even with a grant from before its `scope` was narrowed.
  async function resourceServerInfo(
    indicator: string,
    client: { scope?: string } | undefined,
  ): Promise<ResourceServer> {
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
  const configuration: Configuration = {
    adapter: deps.adapter,
    // OIDC Discovery §3: the languages the pages speak (ui_locales picks one; views/i18n.ts).
    discovery: {
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
      ...frontchannel.frontchannelDiscovery,
    },
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      long: { httpOnly: true, sameSite: 'lax' },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    async findAccount(_ctx, sub) {
      const user = await deps.users.findById(sub)
      if (!user || user.disabled) return undefined
      return {
        accountId: user.id,
        async claims() {
          return {
            sub: user.id,
            email: user.email,
            email_verified: user.emailVerified,
            name: user.name ?? undefined,
            updated_at: Math.floor(user.updatedAt.getTime() / 1000),
            roles: user.roles,
            // OIDC Core §5.4 address and phone scopes, from the user's attributes (standard-claims.ts)
            ...addressAndPhoneClaims(user.attributes),
          }
        },
      }
    },
    // Strong login (issue 3): password only, or password + a second factor / a passkey.
    acrValues: [ACR_PWD, ACR_MFA],
    // The account pages' own first-party client (README "Account pages"): signs in with
    // response_type=none and prompt=login, so the pages never hold tokens.
    clients: [
      {
        // scope: the pages only sign in; like every client it gets no more than it is given.
        client_id: ACCOUNT_CLIENT_ID,
        client_name: 'your portcullis account',
        token_endpoint_auth_method: 'none',
        scope: 'openid',
        grant_types: [],
        response_types: ['none'],
        redirect_uris: [`${config.PUBLIC_URL}/account/callback`],
      },
      {
        // The admin console (admin/console/): authorization code + PKCE, no secret, MFA unless
        // ADMIN_CONSOLE_REQUIRE_MFA=false (login-policy.ts `require_mfa`).
        client_id: CONSOLE_CLIENT_ID,
        client_name: 'portcullis admin console',
        token_endpoint_auth_method: 'none',
        scope: 'openid email admin',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: [`${config.PUBLIC_URL}/admin/callback`],
        post_logout_redirect_uris: [`${config.PUBLIC_URL}/admin/signed-out`],
        require_mfa: config.ADMIN_CONSOLE_REQUIRE_MFA,
      },
      ...(deps.apiKeyExchange ? [apiKeyExchangeClient] : []),
    ],
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId)
      if (grantId) return ctx.oidc.provider.Grant.find(grantId)
      // First-party: the account pages need no consent.
      if (ctx.oidc.client?.clientId === ACCOUNT_CLIENT_ID && ctx.oidc.session?.accountId) {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ACCOUNT_CLIENT_ID,
          accountId: ctx.oidc.session.accountId,
        })
        grant.addOIDCScope('openid')
        await grant.save()
        return grant
      }
      // First-party too: the console asks for `admin` at our API; the token gets it only when the
      // user holds an admin role (getResourceServerInfo), so there is nothing to consent to.
      if (ctx.oidc.client?.clientId === CONSOLE_CLIENT_ID && ctx.oidc.session?.accountId) {
        const grant = new ctx.oidc.provider.Grant({
          clientId: CONSOLE_CLIENT_ID,
          accountId: ctx.oidc.session.accountId,
        })
        // `admin` is also one of the provider's scopes, so the OIDC side of the grant names it too
        grant.addOIDCScope('openid email admin')
        grant.addResourceScope(API, 'admin')
        await grant.save()
        return grant
      }
      return undefined
    },
    claims: { acr: null, sid: null, ...SCOPE_CLAIMS },
    scopes: [...new Set([...OIDC_SCOPES, ...API_SCOPE_NAMES, ...deps.resourceScopes])],
    // Hashed client secrets (client-secrets.ts): nothing may use a secret as an HMAC key.
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
      ...(deps.clientCert ? (['tls_client_auth', 'self_signed_tls_client_auth'] as const) : []),
    ],
    enabledJWA: {
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
      idTokenSigningAlgValues: ASYMMETRIC,
      userinfoSigningAlgValues: ASYMMETRIC,
      introspectionSigningAlgValues: ASYMMETRIC,
      authorizationSigningAlgValues: ASYMMETRIC,
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
      ...encryptionJwa,
    },
    extraClientMetadata: {
      // The resource indicators this client serves as a resource server: it may introspect
      // tokens whose audience is one of them (see introspection.allowedPolicy).
      // `authz_stores`: the policy stores this client may query (all when absent).
      // `require_mfa` (issue 3): users must complete a second factor to sign in to this client.
      // `allowed_ips` (issue 5): the addresses this client may call the token endpoint (and the
      // other client-authenticated endpoints) from.
      // `require_pkce: false` (confidential clients only) lets a client use the code flow
      // without PKCE; the compliance report lists such clients.
      // `web_origins`: the origins a browser app of this client calls us from (cors.ts).
      // `skip_consent: true` (confidential clients only): a first-party client whose users are
      // not asked to consent; they get the OIDC scopes asked for and the resource scopes they
      // hold, never more (interactions/router.ts). The compliance report lists such clients.
      // `request_uris` (OIDC Core §6.2): the only request_uri values fetched for it (request-objects.ts).
      properties: [
        'resource_servers',
        'authz_stores',
        'require_mfa',
        'allowed_ips',
        'require_pkce',
        'web_origins',
        'skip_consent',
        'request_uris',
        ...frontchannel.FRONTCHANNEL_METADATA,
      ],
      validator(ctx, key, value, metadata) {
        frontchannel.validateFrontchannelMetadata(key, value, metadata as Record<string, unknown>)
        // a client registering itself may set less than an administrator (dynamic-registration.ts)
        if (key === 'resource_servers') assertDynamicRegistration(ctx, metadata as Record<string, unknown>, config)
        if (key === 'request_uris') {
          const problem = requestUrisProblem(value)
          if (problem) throw new errors.InvalidClientMetadata(problem)
        }
        if (key === 'skip_consent' && value !== undefined) {
          if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('skip_consent must be true or false')
          // A public client cannot prove who it is (RFC 8252 §8.6: another app can claim its
          // client_id and redirect URI), so consent is what tells the user which app asks.
          if (value && (metadata as { token_endpoint_auth_method?: string }).token_endpoint_auth_method === 'none') {
            throw new errors.InvalidClientMetadata(
              'skip_consent: true is only allowed for confidential clients; public clients (token_endpoint_auth_method none) always show the consent page',
            )
          }
        }
        if (key === 'require_pkce' && value !== undefined) {
          if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('require_pkce must be true or false')
          // RFC 9700 §2.1.1: a public client has nothing else protecting its codes.
          if (!value && (metadata as { token_endpoint_auth_method?: string }).token_endpoint_auth_method === 'none') {
            throw new errors.InvalidClientMetadata(
              'require_pkce: false is only allowed for confidential clients; public clients (token_endpoint_auth_method none) always use PKCE',
            )
          }
        }
        if (key === 'web_origins') {
          const problem = webOriginsProblem(value)
          if (problem) throw new errors.InvalidClientMetadata(problem)
        }
        if (key === 'allowed_ips') {
          const problem = allowedIpsProblem(value)
          if (problem) throw new errors.InvalidClientMetadata(problem)
        }
        if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean') {
          throw new errors.InvalidClientMetadata('require_mfa must be true or false')
        }
        if (key === 'authz_stores' && value !== undefined) {
          if (
            !Array.isArray(value) ||
            !value.every((v) => typeof v === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(v))
          ) {
            throw new errors.InvalidClientMetadata('authz_stores must be an array of policy store names')
          }
        }
        if (key === 'resource_servers' && value !== undefined) {
          if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && URL.canParse(v))) {
            throw new errors.InvalidClientMetadata('resource_servers must be an array of absolute URIs')
          }
        }
      },
    },
    pkce: {
      // RFC 9700 §2.1.1: PKCE for every client using the code flow; a confidential client may
      // be exempted explicitly with `require_pkce: false` (never a public one: see validator).
      required: (_ctx, client) => client.clientAuthMethod === 'none' || client.metadata().require_pkce !== false,
    },
    // OIDC Core §3.1.2.1: redirect_uri is REQUIRED in every authorization request, even when the
    // client registered exactly one (and so at the token endpoint, RFC 6749 §4.1.3).
    allowOmittingSingleRegisteredRedirectUri: false,
    // Refresh tokens rotate on every use; oidc-provider revokes the whole grant when a used
    // one is presented again (RFC 9700 §4.14.2).
    rotateRefreshToken: true,
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ACCESS_TOKEN_TTL,
      AuthorizationCode: config.AUTHORIZATION_CODE_TTL,
      IdToken: config.ID_TOKEN_TTL,
      RefreshToken: config.REFRESH_TOKEN_TTL,
      Session: config.SESSION_TTL,
      Interaction: config.INTERACTION_TTL,
      Grant: config.REFRESH_TOKEN_TTL,
      DeviceCode: config.DEVICE_CODE_TTL,
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      ...(deps.login ? { policy: loginPolicy(deps.login, { create: config.REGISTRATION_ENABLED }) } : {}),
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A client may introspect only its own tokens or tokens for a resource server it is.
        // Public clients cannot introspect at all (RFC 7662 §2.1; client-secrets.ts); JWT access
        // tokens are answered by jwt-access-tokens.ts with the same policy.
        async allowedPolicy(_ctx, client, token) {
          return mayIntrospect(client, { clientId: token.clientId, aud: (token as unknown as { aud?: unknown }).aud })
        },
      },
      revocation: {
        enabled: true,
        // RFC 7009 §2.1: a client may revoke only tokens issued to it. A public client asking
        // about another's token gets the RFC's plain 200 (nothing to learn); others an error.
        async allowedPolicy(_ctx, client, token) {
          if (token.clientId === client.clientId) return true
          if (client.clientAuthMethod === 'none') return false
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
        },
      },
      userinfo: { enabled: true },
      // RFC 9101 request objects, signed with a key of the client's jwks / jwks_uri (request-objects.ts)
      requestObjects: { enabled: config.REQUEST_OBJECTS === 'on', requireSignedRequestObject: false },
      // OIDC Core §5.5, within the client's scope ceiling (standard-claims.ts)
      claimsParameter: { enabled: true, assertClaimsParameter: assertClaimsWithinClientScope },
      ...encryptionFeature,
      ...registrationFeatures(config),
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      ...(deps.clientCert ? { mTLS: mtlsFeature(deps.clientCert) } : {}),
      deviceFlow: {
        enabled: true,
        userCodeInputSource: async (ctx, form, _out, err) => {
          const e = err as { name?: string; userCode?: string } | undefined
          ctx.body = deviceInputPage({
            form,
            error: !e
              ? undefined
              : e.userCode || e.name === 'NoCodeError'
                ? t('device.codeInvalid')
                : e.name === 'AbortedError'
                  ? t('device.aborted')
                  : t('device.failed'),
          })
        },
        userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
          ctx.body = deviceConfirmPage({ form, clientName: client.clientName ?? client.clientId, userCode })
        },
        successSource: async (ctx) => {
          ctx.body = deviceSuccessPage(ctx.oidc.client?.clientName)
        },
      },
      // OpenID Connect Back-Channel Logout 1.0: a client with a backchannel_logout_uri gets a
      // logout token when a session it took part in ends at the end-session endpoint (here) or
      // anywhere else (backchannel-logout.ts: admin revocation, disabled user, password reset).
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          // RP-Initiated Logout 1.0 §2: the client may ask for a language (ui_locales) here too.
          preferUiLocales(ctx.oidc.params?.ui_locales)
          ctx.body = logoutPage({ form, host: ctx.host })
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.body = loggedOutPage(ctx.oidc.client?.clientName)
        },
      },
      resourceIndicators: {
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
          const info = await resourceServerInfo(indicator, client)
          // Issue 10 §1: a user's token carries only the scopes the user's roles hold now. The
          // token endpoint re-reads the grant (code, refresh, device code): filtering here
          // covers them all, and a revoked role stops at the next refresh.
          const accountId = ctx.oidc.account?.accountId
          if (accountId && client?.clientId === CONSOLE_CLIENT_ID && indicator === API) {
            const admin = deps.holdsAdminRole ? await deps.holdsAdminRole(accountId) : false
            return { ...info, scope: admin ? 'admin' : '' }
          }
          if (!accountId || !deps.holdings) return info
          const held =
            (await deps.holdings((await deps.users.findById(accountId))?.roles ?? [])).byResource.get(indicator) ??
            new Set<string>()
          return {
            ...info,
            scope: String(info.scope ?? '')
              .split(' ')
              .filter((s) => held.has(s))
              .join(' '),
          }
        },
      },
    },
    // Tokens for our API carry the client's store restriction, so checks need no lookup.
    // Tokens exchanged for an API key name the key (key_id, key_level).
    async extraTokenClaims(_ctx, token) {
      const fromKey = { ...apiKeyClaimsOf(token), ...exchangeClaimsOf(token) }
      const resourceServer = (token as { resourceServer?: { audience?: string } }).resourceServer
      if (resourceServer?.audience !== API) return fromKey
      const client = (token as { client?: { metadata(): Record<string, unknown> } }).client
      const stores = client?.metadata().authz_stores
      return Array.isArray(stores) ? { ...fromKey, authz_stores: stores } : fromKey
    },
    async renderError(ctx: KoaContextWithOIDC, out, error) {
      ctx.type = 'html'
      // The user sees it in the language the client asked for; the way back is the client's own page.
      preferUiLocales(ctx.oidc?.params?.ui_locales)
      const client = ctx.oidc?.client
      const uri = client?.metadata().client_uri
      ctx.body = explainedErrorPage({
        status: ctx.status,
        code: (error as Error | undefined)?.name === 'SessionNotFound' ? 'SessionNotFound' : out.error,
        message: out.error_description ?? out.error,
        app: client
          ? {
              name: client.clientName ?? client.clientId,
              uri: typeof uri === 'string' && /^https?:\/\//.test(uri) ? uri : undefined,
            }
          : undefined,
      })
    },
    // Only registered web origins, only on the endpoints a browser app needs (cors.ts).
    clientBasedCORS,
    ...(deps.revocations ? { formats: { customizers: { jwt: recordGrantJwts(deps.revocations) } } } : {}),
    // oidc-provider refuses outgoing requests (logout tokens, jwks_uri) to special-use addresses
    // (SSRF protection); OUTBOUND_PRIVATE_ADDRESSES lifts that for RPs on a private network.
    ...(config.OUTBOUND_PRIVATE_ADDRESSES
      ? {
          fetch: (url: string | URL | Request, options?: RequestInit) => {
            const { dispatcher: _protected, ...rest } = (options ?? {}) as RequestInit & { dispatcher?: unknown }
            return globalThis.fetch(url, rest)
          },
        }
      : {}),
    // RFC 9700 §2.1.2: no implicit grant; 'none' lets a client start a session without tokens.
    responseTypes: ['code', 'none'],
  }

  const provider = new Provider(config.PUBLIC_URL, configuration)
  provider.proxy = config.TRUST_PROXY
  // first, so it wraps everything below: a database or Redis outage is a 503, not a 500
  installUnavailableResponses(provider)
  installHashedClientSecrets(provider)
  installExactClientAuth(provider)
  installCodeRedemptionRules(provider)
  installAuthorizationPost(provider)
  frontchannel.installFrontchannelLogout(
    provider,
    deps.onEvent && ((ctx, n) => deps.onEvent!('frontchannel.notified', ctx, n)),
  )
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
  if (deps.apiKeyExchange && deps.clientIp) {
    const revocations = deps.revocations
    const accessTokens =
      deps.tokenExchange && revocations
        ? accessTokenExchange(provider, {
            ...deps.tokenExchange,
            jwks: deps.jwks,
            isRevoked: (jti) => revocations.isRevokedNow(jti),
            resourceServer: (_ctx, indicator, client) => resourceServerInfo(indicator, client),
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
      ...deps.apiKeyExchange,
      accessTokens,
      clientIp: deps.clientIp,
      defaultResource: API,
      resourceServer: (_ctx, indicator, client) => resourceServerInfo(indicator, client),
    })
  }
  if (deps.clientIp) {
    const emit = deps.onEvent
    installClientIpAllowlists(provider, {
      clientIp: deps.clientIp,
      onDenied: emit && ((d) => emit('client.ip_denied', d.ctx, d)),
    })
  }
  if (deps.login) {
    const hooks = deps.login
    // RP-initiated logout ends the sign-in session too ("logout everywhere it is used"). The
    // same event ends A's session when B signs in in A's browser (oidc-provider's resume step
    // logs A out first): the cookie then already holds B's new sign-in session, so only the
    // sign-in sessions of the ended oidc-provider session (its uid and account) end.
    provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
      const { uid, accountId } = ctx.oidc.session ?? {}
      if (!uid) return
      void hooks.sessionEnded(sessionToken(ctx, hooks), { uid, accountId }).catch(() => undefined)
    })
  }
  if (deps.onEvent) {
    const emit = deps.onEvent
    for (const name of [
      'grant.success',
      'grant.error',
      'grant.revoked',
      'end_session.success',
      'server_error',
      'authorization.error',
      'backchannel.error',
      'backchannel.success',
    ]) {
      provider.on(name as 'server_error', (...args: unknown[]) => emit(name, ...args))
    }
    // oidc-provider has no event for a successful RFC 7009 revocation (only `<kind>.destroyed`,
    // without the request): a post-middleware reads the token the revocation endpoint resolved.
    provider.use(async (ctx, next) => {
      await next()
      if (ctx.oidc?.route !== 'revocation' || ctx.status !== 200) return
      const entities = ctx.oidc.entities as Record<string, unknown>
      const token = entities.AccessToken ?? entities.ClientCredentials ?? entities.RefreshToken
      if (token) emit('revocation.success', ctx, token)
    })
  }
  return provider
}

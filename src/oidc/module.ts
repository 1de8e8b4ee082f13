import type { Redis } from 'ioredis'
import type { AuditLog } from '../audit/log.ts'
import type { Config } from '../config/env.ts'
import type { Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import { changeNotice } from '../db/change-notice.ts'
import { lookupCache } from '../db/lookup-cache.ts'
import type { SettingQueries } from '../db/settings.ts'
import { clientCertResolver } from '../http/client-cert.ts'
import { clientIpResolver } from '../http/client-ip.ts'
import type { UserService } from '../identity/users.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { FeatureModule } from '../module.ts'
import { API_SCOPE_NAMES, apiIndicator } from './api-resource.ts'
import { apiTokenVerifier } from './api-tokens.ts'
import type { KeyVerifier } from '../apikeys/verify.ts'
import { accessTokenCallers } from './callers.ts'
import { clientService } from './clients.ts'
import { webOriginsOf } from './cors.ts'
import { createInitialAccessToken } from './dynamic-registration.ts'
import { hardenProvider } from './edge.ts'
import { scopeHoldings } from './holdings.ts'
import { keyStore, type KeyStore } from './keys.ts'
import { providerAdapter } from './model-adapter.ts'
import { buildProvider, OIDC_SCOPES, type ProviderDeps } from './provider.ts'
import { endSessionAudited, exchangeAudits, providerEventRecorder } from './provider-events.ts'
import { clientQueries } from './queries/clients.ts'
import { keyQueries } from './queries/keys.ts'
import { payloadQueries } from './queries/payloads.ts'
import { resourceQueries } from './queries/resources.ts'
import { revokedTokenQueries } from './queries/revoked-tokens.ts'
import { cookieKeys, providerReloader } from './reload.ts'
import { revokedTokens } from './revoked-tokens.ts'

/**
 * The signing keys, early in start order: the provider signs tokens with them, the audit log its
 * checkpoints and the SSF transmitter its SETs. Nothing starts; keys are made on first load.
 */
export function signingKeysModule(deps: {
  db: Db
  ring: Keyring
  metrics: Pick<Metrics, 'gaugeSource' | 'signingKeyAge'>
}) {
  const { metrics } = deps
  const queries = keyQueries(deps.db)
  const keys = keyStore(queries, deps.ring)
  metrics.gaugeSource(metrics.signingKeyAge, async () => {
    metrics.signingKeyAge.reset()
    for (const k of (await keys.list()).filter((k) => k.status === 'active')) {
      metrics.signingKeyAge.set(
        { alg: k.alg, kid: k.kid },
        (Date.now() - (k.activatedAt ?? k.createdAt).getTime()) / 1000,
      )
    }
  })
  return { queries, keys }
}

/**
 * OAuth storage and callers: clients and resources (cached in memory, dropped after a local write
 * and on the configuration notice), revoked JWT access tokens (RFC 7009, known to every instance
 * within a second), and who calls our APIs with an access token. The provider itself comes later
 * in start order (providerModule), once the features it calls into exist.
 */
export function oidcModule(deps: { config: Readonly<Config>; logger: Logger; db: Db; redis?: Redis }) {
  const { config, db } = deps
  // Client and resource rows are read on every token and introspection request.
  const rawClients = clientQueries(db)
  const rawResources = resourceQueries(db)
  const cached = {
    clients: lookupCache((clientId) => rawClients.find(clientId)),
    resources: lookupCache((indicator) => rawResources.find(indicator)),
  }
  const clearCaches = () => {
    cached.clients.clear()
    cached.resources.clear()
  }
  const clearing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A) => {
      try {
        return await write(...args)
      } finally {
        clearCaches()
      }
    }
  const queries = {
    payloads: payloadQueries(db),
    clients: { ...rawClients, upsert: clearing(rawClients.upsert), remove: clearing(rawClients.remove) },
    resources: { ...rawResources, upsert: clearing(rawResources.upsert) },
    revokedTokens: revokedTokenQueries(db),
  }
  const revocations = revokedTokens({
    queries: queries.revokedTokens,
    redis: deps.redis,
    prefix: config.REDIS_PREFIX,
    logger: deps.logger,
  })
  const apiTokens = apiTokenVerifier({
    issuer: config.PUBLIC_URL,
    audience: apiIndicator(config.PUBLIC_URL),
    isRevoked: revocations.isRevoked,
  })
  // RFC 8705: the client certificate of a request (native TLS listener or trusted proxy header).
  const clientCert = clientCertResolver({
    header: config.MTLS_CERT_HEADER,
    format: config.MTLS_CERT_HEADER_FORMAT,
    trustedProxies: config.TRUSTED_PROXIES,
    caCerts: config.tls?.caCerts ?? [],
  })
  const callers = accessTokenCallers({ apiTokens, clientCert })
  // Every web origin a client registered, for CORS preflights (oidc/cors.ts); read at most every 5 s.
  let originsCache: { at: number; value: Promise<ReadonlySet<string>> } | undefined
  const webOrigins = () => {
    if (!originsCache || Date.now() - originsCache.at > 5000) {
      const value = queries.clients
        .list()
        .then((list) => new Set(list.flatMap((c) => [...webOriginsOf(c.metadata as Record<string, unknown>)])))
      originsCache = { at: Date.now(), value }
      value.catch(() => {
        originsCache = undefined
      })
    }
    return originsCache.value
  }
  return {
    queries,
    cached,
    clearCaches,
    revocations,
    apiTokens,
    clientCert,
    verifyAccessToken: callers.verifyAccessToken,
    accessTokenScheme: callers.accessTokenScheme,
    /** The client IP of a request (socket, or X-Forwarded-For from TRUSTED_PROXIES). */
    clientIp: clientIpResolver(config.TRUSTED_PROXIES),
    /** What a user's roles let them hold (API keys, consent); see oidc/holdings.ts. */
    holdings: scopeHoldings({ resources: queries.resources, apiIndicator: apiIndicator(config.PUBLIC_URL) }),
    webOrigins,
    start: () => revocations.start(),
    stop: () => revocations.stop(),
  } satisfies FeatureModule
}
export type OidcCore = ReturnType<typeof oidcModule>

export interface ProviderModuleDeps {
  config: Readonly<Config>
  logger: Logger
  ring: Keyring
  redis?: Redis
  settings: SettingQueries
  keys: KeyStore
  audit: AuditLog
  users: UserService
  login: { hooks: NonNullable<ProviderDeps['login']> }
  oidc: Pick<
    OidcCore,
    | 'queries'
    | 'cached'
    | 'clearCaches'
    | 'revocations'
    | 'apiTokens'
    | 'clientCert'
    | 'clientIp'
    | 'holdings'
    | 'webOrigins'
  >
  /** the token exchange policy is decided by the PDP (issue 15 §4) */
  decide: { check(store: string, tuple: unknown[]): { allowed: boolean } }
  holdsAdminRole: (userId: string) => Promise<boolean>
  apikeys: { verify: KeyVerifier; clearCache(): void; ownersChanged(): Promise<void> }
  /** identity providers changed through the admin API or an import elsewhere */
  federation: { invalidate(): void }
}

/**
 * The OpenID provider, last in start order because it calls into identity, authz and API keys:
 * built from configuration, keys and resource scopes, rebuilt when they change (oidc/reload.ts),
 * its events mapped to audit records (oidc/provider-events.ts). Clients, resources and scopes
 * changed by another process reach every instance at once: Redis pub/sub when configured, else
 * a sub-second poll of a generation in the settings table (db/change-notice.ts).
 */
export function providerModule(deps: ProviderModuleDeps) {
  const { config, logger, audit, oidc } = deps
  const onEvent = providerEventRecorder({ audit, logger })
  const exchanges = exchangeAudits({ audit, clientIp: oidc.clientIp })
  const adapter = providerAdapter({
    payloads: oidc.queries.payloads,
    redis: deps.redis,
    redisPrefix: config.REDIS_PREFIX,
    cachedClients: { find: oidc.cached.clients.get },
    clients: oidc.queries.clients,
    audit,
    announce: () => configNotice.announce(),
    refreshTokenTtl: config.REFRESH_TOKEN_TTL,
    revokeGrant: oidc.revocations.revokeGrant,
  })
  const reloader = providerReloader({
    keys: deps.keys,
    resources: oidc.queries.resources,
    apiTokens: oidc.apiTokens,
    logger,
    build: ({ jwks, resourceScopes }) => {
      const provider = buildProvider({
        config,
        adapter,
        jwks,
        cookieKeys: cookieKeys(deps.ring),
        users: deps.users,
        resources: { find: oidc.cached.resources.get },
        resourceScopes,
        holdings: oidc.holdings,
        onEvent: (name, ...args) => onEvent(name, args),
        login: deps.login.hooks,
        clientIp: oidc.clientIp,
        // RFC 8705 only where a certificate can reach us: the HTTPS listener or a proxy header
        ...(config.tls?.cert || config.MTLS_CERT_HEADER ? { clientCert: oidc.clientCert } : {}),
        revocations: oidc.revocations,
        webOrigins: oidc.webOrigins,
        holdsAdminRole: deps.holdsAdminRole,
        tokenExchange: {
          maxTtl: config.TOKEN_EXCHANGE_TTL,
          decide: tokenExchangePolicy(config, deps.decide),
          ...exchanges.tokenExchange,
        },
        apiKeyExchange: {
          verify: deps.apikeys.verify,
          maxTtl: config.APIKEY_EXCHANGE_TTL,
          ...exchanges.apiKeyExchange,
        },
      })
      hardenProvider(provider, logger)
      return provider
    },
  })
  const { current, refresh } = reloader
  const configNotice = changeNotice({
    settings: deps.settings,
    key: 'config:generation',
    redis: deps.redis,
    channel: `${config.REDIS_PREFIX}config:changed`,
    logger,
    label: 'configuration changes',
    onChange: () => {
      oidc.clearCaches()
      deps.federation.invalidate()
      // API keys cache their owner's details, read through the client cache: an owner read
      // between the API-key notice and this one may have seen the old client (apikeys/owners.ts).
      deps.apikeys.clearCache()
      return refresh()
    },
  })
  return {
    provider: current,
    loadProvider: reloader.loadProvider,
    refresh,
    clients: clientService(oidc.queries.clients, current, () => [
      ...OIDC_SCOPES,
      ...API_SCOPE_NAMES,
      ...reloader.resourceScopes(),
    ]),
    /** RFC 7591 §3 initial access tokens for DYNAMIC_REGISTRATION=initial-access-token (audited). */
    async createInitialAccessToken(actor: string) {
      const iat = await createInitialAccessToken(current(), config.DYNAMIC_REGISTRATION_IAT_TTL)
      await audit.record({
        action: 'client.iat_created',
        outcome: 'success',
        actor,
        details: { expires_at: iat.expiresAt.toISOString() },
      })
      return iat
    },
    /**
     * After clients, resources or scopes changed here (an import): every other instance
     * reloads what depends on them (the provider's scopes, API-key owner details) at once.
     */
    async configChanged() {
      oidc.clearCaches()
      await configNotice.announce()
      await deps.apikeys.ownersChanged()
    },
    /** Ends an oidc-provider session, telling its clients first (Back-Channel Logout 1.0). */
    endOidcSession: (uid: string) => endSessionAudited(current(), uid, audit),
    async start() {
      await reloader.loadProvider()
      await configNotice.start()
    },
    stop: () => configNotice.stop(),
  } satisfies FeatureModule
}

/** The token exchange policy (issue 15 §4): no store, or a store that cannot take the request, refuses. */
function tokenExchangePolicy(
  config: Pick<Config, 'TOKEN_EXCHANGE_POLICY_STORE'>,
  decide: ProviderModuleDeps['decide'],
): NonNullable<ProviderDeps['tokenExchange']>['decide'] {
  return (q) => {
    const store = config.TOKEN_EXCHANGE_POLICY_STORE
    try {
      if (decide.check(store, [`client:${q.clientId}`, q.audience, q.mode]).allowed) return { allowed: true }
    } catch (err) {
      return {
        allowed: false,
        reason: `no usable token exchange policy (store ${store}): ${(err as Error).message}`,
      }
    }
    return {
      allowed: false,
      reason: `the token exchange policy (store ${store}) does not let ${q.clientId} ${q.mode} for ${q.audience}`,
    }
  }
}

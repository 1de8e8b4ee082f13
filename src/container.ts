import type { Config } from './config/env.ts'
import { createLogger, type Logger } from './logger.ts'
import { createDb, pingDb, type Db } from './db/client.ts'
import { createRedis } from './db/redis.ts'
import { isDependencyUnavailable } from './db/unavailable.ts'
import { settingQueries } from './db/settings.ts'
import { loadMasterKey } from './crypto/master-key.ts'
import { deriveKey, open, seal, type Keyring } from './crypto/envelope.ts'
import { userQueries } from './identity/queries.ts'
import { userService } from './identity/users.ts'
import { federationQueries } from './federation/queries.ts'
import { federationService } from './federation/service.ts'
import { auditQueries } from './audit/queries.ts'
import { auditLog } from './audit/log.ts'
import { payloadQueries } from './oidc/queries/payloads.ts'
import { clientQueries } from './oidc/queries/clients.ts'
import { resourceQueries } from './oidc/queries/resources.ts'
import { keyQueries } from './oidc/queries/keys.ts'
import { keyStore } from './oidc/keys.ts'
import { clientService } from './oidc/clients.ts'
import {
  clientAdapter,
  modelRouter,
  prismaAdapter,
  redisAdapter,
  retainLonger,
  revokingGrantJwts,
} from './oidc/adapters.ts'
import { buildProvider, OIDC_SCOPES, type OidcProvider } from './oidc/provider.ts'
import { createInitialAccessToken } from './oidc/dynamic-registration.ts'
import { registeredClientRemoval } from './oidc/client-removal.ts'
import { API_SCOPE_NAMES, apiIndicator } from './oidc/api-resource.ts'
import { apiTokenVerifier } from './oidc/api-tokens.ts'
import { revokedTokenQueries } from './oidc/queries/revoked-tokens.ts'
import { revokedTokens } from './oidc/revoked-tokens.ts'
import { webOriginsOf } from './oidc/cors.ts'
import type { BearerScheme, Caller } from './http/middleware/authn.ts'
import { requestIdOf } from './http/middleware/request.ts'
import { changeNotice } from './db/change-notice.ts'
import { lookupCache } from './db/lookup-cache.ts'
import { hashPassword } from './identity/passwords.ts'
import type { IncomingMessage } from 'node:http'
import { policyQueries } from './authz/queries.ts'
import { policyStores } from './authz/stores.ts'
import { policyRegistry } from './authz/registry.ts'
import { decider } from './authz/decide.ts'
import { enginePort } from './authz/engine-port.ts'
import { SYSTEM_STORE, systemStoreGuard } from './admin/authority.ts'
import { isPostgres } from './db/client.ts'
import { createMetrics } from './metrics/registry.ts'
import { auditChain, outboxTargets } from './audit/service.ts'
import { auditMetrics } from './audit/observe-metrics.ts'
import { redisWindows } from './audit/detector-windows.ts'
import { brandOf } from './views/brand.ts'
import { CONSOLE_CLIENT_ID } from './oidc/login-policy.ts'
import { accountStatus } from './identity/account-status.ts'
import { securityMonitor } from './audit/detectors.ts'
import { parseAdminWindow, type AdminWindow } from './audit/admin-window.ts'
import { complianceProviders } from './audit/report.ts'
import { apiKeyQueries } from './apikeys/queries.ts'
import { ownerDirectory } from './apikeys/owners.ts'
import { scopeHoldings } from './oidc/holdings.ts'
import { apiKeyService } from './apikeys/service.ts'
import { apiKeyBearerScheme } from './apikeys/scheme.ts'
import { ssfQueries } from './ssf/queries.ts'
import { ssfService } from './ssf/service.ts'
import { clientCertResolver } from './http/client-cert.ts'
import { clientIpResolver } from './http/client-ip.ts'
import { strongLogin } from './identity/strong-login.ts'
import { endOidcSessionNotifying } from './oidc/backchannel-logout.ts'
import { hardenProvider } from './oidc/edge.ts'
import path from 'node:path'
import { mailQueries } from './mail/queries.ts'
import { mailService } from './mail/service.ts'
import { fileTransport, smtpTransport } from './mail/transport.ts'
import { emailTokenQueries } from './identity/queries/email-tokens.ts'
import { passwordResetService } from './identity/password-reset.ts'
import { emailVerificationService } from './identity/email-verification.ts'
import { registrationService } from './identity/registration.ts'
import { noChallenge, proofOfWork } from './identity/signup-challenge.ts'
import { securityNotices } from './identity/security-notices.ts'

/**
 * The composition root: config -> database -> queries -> services -> provider, as one plain
 * typed object. Nothing here listens on a port (see server.ts) or applies migrations (see
 * main.ts), so tests build a container on a test database and use `buildApp` directly.
 */
export async function createContainer(config: Readonly<Config>, opts: { logger?: Logger } = {}) {
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL)
  const master = loadMasterKey({
    value: config.PORTCULLIS_MASTER_KEY,
    embedded: config.embedded,
    dataDir: config.DATA_DIR,
  })
  // Every query and Redis command is bounded (issue 16 §3); see db/client.ts and db/redis.ts.
  const db: Db = await createDb(config.DATABASE_URL, {
    connect: config.DB_CONNECT_TIMEOUT,
    query: config.DB_QUERY_TIMEOUT,
  })
  const redis = config.REDIS_URL
    ? createRedis(config.REDIS_URL, { connect: config.REDIS_CONNECT_TIMEOUT, command: config.REDIS_COMMAND_TIMEOUT })
    : undefined
  redis?.on('error', (err) => logger.warn({ err: err.message }, 'redis error'))

  // Client and resource rows are read on every token and introspection request: cached in
  // memory (db/lookup-cache.ts), dropped after a local write and on the configuration notice
  // from any other instance or process (configNotice below).
  const rawClients = clientQueries(db)
  const rawResources = resourceQueries(db)
  const hot = {
    clients: lookupCache((clientId) => rawClients.find(clientId)),
    resources: lookupCache((indicator) => rawResources.find(indicator)),
  }
  const configCachesClear = () => {
    hot.clients.clear()
    hot.resources.clear()
  }
  const clearing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A) => {
      try {
        return await write(...args)
      } finally {
        configCachesClear()
      }
    }
  const queries = {
    users: userQueries(db),
    audit: auditQueries(db, { postgres: isPostgres(config.DATABASE_URL) }),
    payloads: payloadQueries(db),
    clients: { ...rawClients, upsert: clearing(rawClients.upsert), remove: clearing(rawClients.remove) },
    resources: { ...rawResources, upsert: clearing(rawResources.upsert) },
    keys: keyQueries(db),
    settings: settingQueries(db),
    policies: policyQueries(db),
    apikeys: apiKeyQueries(db),
    revokedTokens: revokedTokenQueries(db),
  }
  // Metrics registry (c.metrics): features increment their counters; see metrics/registry.ts.
  const metrics = createMetrics()
  // Audit: records are batched and hash-chained; with a webhook or syslog target, each one also goes to the outbox.
  const audit = auditLog(queries.audit, logger, {
    outbox: outboxTargets(config),
    onFailure: () => metrics.auditWriteFailures.inc(),
  })
  auditMetrics(audit, queries.audit, metrics)
  // Users: a password rehashed at sign-in (imported or older hash) is audited.
  const users = userService(queries.users, { audit })
  // Strong login (issue 3): factors, recovery codes, sign-in sessions, lockout. Its hooks go
  // into the provider (login checks); ending an oidc-provider session needs the provider.
  const login = strongLogin({
    db,
    config,
    ring: master.ring,
    settings: queries.settings,
    audit,
    redis,
    endOidcSession: async (uid) => {
      // OIDC Back-Channel Logout 1.0: the session's clients hear of it before it ends
      const deliveries = await endOidcSessionNotifying(
        current(),
        uid,
        (d) =>
          void audit.record({
            action: 'logout.backchannel',
            outcome: d.outcome,
            actor: null,
            target: d.accountId,
            details: { client_id: d.clientId, trigger: 'session_revoked', ...(d.error ? { error: d.error } : {}) },
          }),
      )
      return deliveries.filter((d) => d.outcome === 'success').length
    },
  })
  // Outgoing mail (issue 14 §1): SMTP_URL, else .eml files in DATA_DIR/mail; always through the outbox.
  const mail = mailService({
    queries: mailQueries(db),
    transport: config.SMTP_URL
      ? smtpTransport({
          url: config.SMTP_URL,
          requireStartTls: config.SMTP_REQUIRE_STARTTLS,
          rejectUnauthorized: config.SMTP_TLS_REJECT_UNAUTHORIZED,
        })
      : fileTransport(path.join(config.DATA_DIR, 'mail')),
    ring: master.ring,
    logger,
    options: {
      from: config.MAIL_FROM ?? `${config.PRODUCT_NAME} <no-reply@${new URL(config.PUBLIC_URL).hostname}>`,
      maxAttempts: config.MAIL_MAX_ATTEMPTS,
    },
    onOutcome: (kind, outcome) => metrics.mails.inc({ kind, outcome }),
  })
  metrics.gaugeSource(metrics.mailOutboxPending, async () => metrics.mailOutboxPending.set(await mail.pending()))
  const emailTokens = emailTokenQueries(db)
  let pruneTimer: NodeJS.Timeout | undefined
  // Forgotten password (issue 14 §3): links by mail, rate limited, audited.
  const passwordReset = passwordResetService({
    users,
    tokens: emailTokens,
    mail,
    audit,
    sessions: login.sessions,
    lockout: login.lockout,
    logger,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    options: {
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
      ttl: config.PASSWORD_RESET_TTL,
      endsSessions: config.PASSWORD_RESET_ENDS_SESSIONS,
      minLength: config.PASSWORD_MIN_LENGTH,
      perAddress: config.PASSWORD_RESET_PER_ADDRESS,
      perIp: config.PASSWORD_RESET_PER_IP,
    },
  })
  // Email verification (issue 14 §2): email_verified only after the user followed a mailed link.
  const emailVerification = emailVerificationService({
    users,
    tokens: emailTokens,
    mail,
    audit,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    options: { publicUrl: config.PUBLIC_URL, brand: brandOf(config), ttl: config.EMAIL_VERIFY_TTL },
  })
  // Self-registration (issue 14 §4): off unless REGISTRATION_ENABLED; proof of work against bots.
  const registration = registrationService({
    users,
    verification: emailVerification,
    mail,
    audit,
    logger,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    options: {
      enabled: config.REGISTRATION_ENABLED,
      allowedDomains: config.REGISTRATION_ALLOWED_DOMAINS,
      minLength: config.PASSWORD_MIN_LENGTH,
      perAddress: config.REGISTRATION_PER_ADDRESS,
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
    },
  })
  const currentKey = master.ring.keys.get(master.ring.currentId)!
  const signupChallenge =
    config.REGISTRATION_POW_BITS > 0
      ? proofOfWork({
          key: deriveKey(currentKey, 'signup-pow'),
          bits: config.REGISTRATION_POW_BITS,
          redis,
          redisPrefix: config.REDIS_PREFIX,
        })
      : noChallenge
  // Security notices to users (issue 14 §5): they follow the audit log; new devices at sign-in.
  const notices = securityNotices({
    users,
    mail,
    audit,
    logger,
    signedInBefore: async (userId, before) =>
      (await queries.audit.loginSources(userId, new Date(0), before, 1)).length > 0,
    options: {
      enabled: config.SECURITY_NOTICES,
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
      deviceKey: deriveKey(currentKey, 'device'),
    },
  })
  notices.start()
  const keys = keyStore(queries.keys, master.ring)
  const auditChainInstance = auditChain({ queries: queries.audit, log: audit, keys, config, logger, metrics })
  // Security detectors observe audit events as they are recorded (c.monitor.apiKeyRejected is the API-key hook).
  const monitor = securityMonitor({
    audit,
    queries: queries.audit,
    logger,
    onAlert: (kind) => metrics.alerts.inc({ kind }),
    // With Redis every instance counts into the same windows (an attack spread by a load
    // balancer is seen whole) and an alert fires once for the cluster.
    ...(redis ? { windows: redisWindows(redis, config.REDIS_PREFIX) } : {}),
    settings: config.AUDIT_ADMIN_WINDOW
      ? { adminWindow: parseAdminWindow(config.AUDIT_ADMIN_WINDOW) as AdminWindow }
      : {},
  })
  // Compliance report providers other features plug in (MFA factors, API keys, policy changes).
  const compliance = complianceProviders()
  metrics.gaugeSource(metrics.signingKeyAge, async () => {
    metrics.signingKeyAge.reset()
    for (const k of (await keys.list()).filter((k) => k.status === 'active')) {
      metrics.signingKeyAge.set(
        { alg: k.alg, kid: k.kid },
        (Date.now() - (k.activatedAt ?? k.createdAt).getTime()) / 1000,
      )
    }
  })
  metrics.gaugeSource(metrics.apiKeysNearExpiry, async () => {
    const list = compliance.providers.apiKeys
    if (!list) return
    const now = Date.now()
    const warn = now + config.API_KEY_EXPIRY_WARNING_DAYS * 86_400_000
    metrics.apiKeysNearExpiry.set(
      (await list()).filter(
        (k) => !k.revoked && k.expiresAt && k.expiresAt.getTime() > now && k.expiresAt.getTime() <= warn,
      ).length,
    )
  })

  // Authorization codes are kept as long as what they issue may live, so a late replay still
  // revokes it (oidc/code-redemption.ts).
  // Revoked JWT access tokens (RFC 7009), known to every instance within a second.
  const revocations = revokedTokens({ queries: queries.revokedTokens, redis, prefix: config.REDIS_PREFIX, logger })
  // RFC 7592 §2.3: a client that deletes itself takes its grants and tokens with it (oidc/client-removal.ts).
  const removeRegisteredClient = registeredClientRemoval({
    clients: queries.clients,
    audit,
    revokeGrantJwts: revocations.revokeGrant,
    redis,
    prefix: config.REDIS_PREFIX,
  })
  // A revoked grant takes its JWT access tokens with it (oidc/adapters.ts).
  const adapter = revokingGrantJwts(
    retainLonger(
      modelRouter({
        db: prismaAdapter(queries.payloads),
        redis: redis ? redisAdapter(redis, config.REDIS_PREFIX) : undefined,
        // Dynamic client registration (oidc/dynamic-registration.ts) writes here: the row and its
        // audit record commit together, and every instance drops its cached client.
        clients: clientAdapter(
          { find: hot.clients.get },
          {
            hash: hashPassword,
            upsert: async (clientId, metadata, secretHash) => {
              const existed = Boolean(await rawClients.find(clientId))
              await queries.clients.upsert(
                clientId,
                metadata,
                secretHash,
                audit.with(() => ({
                  action: existed ? 'client.updated' : 'client.registered',
                  outcome: 'success',
                  actor: `client:${clientId}`,
                  target: clientId,
                  details: {
                    dynamic: true,
                    scope: metadata.scope ?? null,
                    grant_types: metadata.grant_types ?? null,
                    redirect_uris: metadata.redirect_uris ?? null,
                  },
                })),
              )
              await configNotice.announce()
            },
            remove: async (clientId) => {
              await removeRegisteredClient(clientId)
              await configNotice.announce()
            },
          },
        ),
      }),
      { AuthorizationCode: config.REFRESH_TOKEN_TTL },
    ),
    revocations.revokeGrant,
  )
  const apiTokens = apiTokenVerifier({
    issuer: config.PUBLIC_URL,
    audience: apiIndicator(config.PUBLIC_URL),
    isRevoked: revocations.isRevoked,
  })
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
  // How callers of our APIs authenticate: JWT access tokens for the API resource here; the API
  // key scheme adds itself (apikeys/).
  // RFC 8705: the client certificate of a request (native TLS listener or trusted proxy header).
  const clientCert = clientCertResolver({
    header: config.MTLS_CERT_HEADER,
    format: config.MTLS_CERT_HEADER_FORMAT,
    trustedProxies: config.TRUSTED_PROXIES,
    caCerts: config.tls?.caCerts ?? [],
  })
  const verifyAccessToken = async (credential: string, req?: IncomingMessage): Promise<Caller | undefined> => {
    const t = await apiTokens.verify(credential)
    if (!t) return undefined
    // RFC 8705 §3: a certificate-bound token is good only with its certificate.
    if (t.certThumbprint && (!req || clientCert(req)?.thumbprint !== t.certThumbprint)) return undefined
    // A token exchanged for an API key (oidc/apikey-exchange.ts) acts as that key.
    if (t.apiKey) {
      return {
        kind: 'api_key',
        id: t.subject,
        ...(t.subject === t.clientId ? { clientId: t.clientId } : {}),
        scopes: new Set(t.scopes),
        stores: t.stores,
        apiKey: t.apiKey,
      }
    }
    // The admin console's user token (oidc/login-policy.ts CONSOLE_CLIENT_ID): a `user` caller,
    // which only the admin API accepts (http/contract.ts Auth.users); no policy store either.
    if (t.clientId === CONSOLE_CLIENT_ID && t.subject !== t.clientId) {
      return { kind: 'user', id: t.subject, clientId: t.clientId, scopes: new Set(t.scopes), stores: [] }
    }
    return { kind: 'client', id: t.subject, clientId: t.clientId, scopes: new Set(t.scopes), stores: t.stores }
  }
  const bearerSchemes: BearerScheme[] = [
    {
      name: 'access_token',
      accepts: (credential) => credential.split('.').length === 3,
      verify: (credential, ctx) => verifyAccessToken(credential, ctx.req),
    },
  ]

  // API keys (apikeys/): `Authorization: Bearer pcs_...` on every portcullis API.
  const clientIp = clientIpResolver(config.TRUSTED_PROXIES)
  // What a user's roles let them hold (API keys, consent); see oidc/holdings.ts.
  const holdings = scopeHoldings({ resources: queries.resources, apiIndicator: apiIndicator(config.PUBLIC_URL) })
  const apikeys = apiKeyService({
    queries: queries.apikeys,
    owners: ownerDirectory({ users, clients: queries.clients, cachedClients: { find: hot.clients.get }, holdings }),
    ring: master.ring,
    audit,
    settings: queries.settings,
    logger,
    redis,
    redisPrefix: config.REDIS_PREFIX,
    options: {
      maxSkew: config.APIKEY_SIGNATURE_MAX_SKEW,
      rotationGrace: config.APIKEY_ROTATION_GRACE,
      expiryWarning: config.API_KEY_EXPIRY_WARNING_DAYS * 86400,
    },
    onRejected: (e) => void monitor.apiKeyRejected(e),
  })
  bearerSchemes.push(apiKeyBearerScheme({ verify: apikeys.verify, clientIp, publicUrl: config.PUBLIC_URL }))
  compliance.provide({
    apiKeys: async () =>
      (await apikeys.list()).map((k) => ({
        id: k.id,
        name: k.name,
        owner: `${k.ownerType}:${k.ownerId}`,
        scopes: k.scopes,
        createdAt: k.createdAt,
        lastUsedAt: k.lastUsedAt,
        expiresAt: k.expiresAt,
        revoked: Boolean(k.revokedAt),
      })),
  })

  // Strong login: the compliance report lists each user's second factors.
  compliance.provide({ mfaFactors: async (u) => (await login.mfa.list(u.id)).map((f) => f.type) })

  // Policy decision point: stores in the database, every store's current version in memory.
  const policyRegistryInstance = policyRegistry({
    queries: queries.policies,
    engine: enginePort,
    logger,
    redis,
    redisPrefix: config.REDIS_PREFIX,
  })
  const authz = {
    engine: enginePort,
    registry: policyRegistryInstance,
    stores: policyStores({
      queries: queries.policies,
      engine: enginePort,
      audit,
      onCommit: (store, version) => policyRegistryInstance.committed(store, version),
      // the built-in store of admin roles can never lose its last administrator (admin/authority.ts)
      guards: { [SYSTEM_STORE]: systemStoreGuard },
      reserved: {
        [SYSTEM_STORE]:
          'the system store holds the admin roles: grant and revoke them with portcullis admin grant-role|revoke-role (or the admin services)',
      },
    }),
    decide: decider(policyRegistryInstance, (store, allowed, seconds) => {
      metrics.policyDecisions.inc({ store, outcome: allowed ? 'allow' : 'deny' })
      metrics.policyDecisionDuration.observe({ store }, seconds)
    }),
  }

  metrics.gaugeSource(metrics.policyVersion, () => {
    metrics.policyVersion.reset()
    for (const name of authz.registry.names())
      metrics.policyVersion.set({ store: name }, authz.registry.get(name)?.version ?? 0)
  })

  let provider: OidcProvider | undefined
  let providerFingerprint = ''
  let resourceScopes: string[] = []
  // What the provider is built from besides configuration: the published keys and the scopes
  // of registered resources. When either changes (on any instance) the provider is rebuilt.
  async function fingerprint() {
    const scopes = [...new Set((await queries.resources.list()).flatMap((r) => r.scopes))].sort()
    return { value: `${await keys.fingerprint()}|${scopes.join(' ')}`, scopes }
  }
  async function loadProvider() {
    await keys.ensure()
    const fp = await fingerprint()
    providerFingerprint = fp.value
    resourceScopes = fp.scopes
    apiTokens.setKeys(await keys.publicJwks())
    provider = buildProvider({
      config,
      adapter,
      jwks: await keys.privateJwks(),
      cookieKeys: cookieKeys(master.ring),
      users,
      resources: { find: hot.resources.get },
      resourceScopes,
      holdings,
      onEvent: (name, ...args) => onProviderEvent(name, args),
      login: login.hooks,
      clientIp,
      // RFC 8705 only where a certificate can reach us: the HTTPS listener or a proxy header
      ...(config.tls?.cert || config.MTLS_CERT_HEADER ? { clientCert } : {}),
      revocations,
      webOrigins,
      holdsAdminRole: async (userId) => {
        try {
          return (await authz.stores.current(SYSTEM_STORE)).lines.some((l) => l[0] === 'g' && l[1] === `user:${userId}`)
        } catch (err) {
          if ((err as { code?: string }).code === 'not_found') return false
          throw err
        }
      },
      tokenExchange: {
        maxTtl: config.TOKEN_EXCHANGE_TTL,
        // decided by the PDP (issue 15 §4): no store, or a store that cannot take the request, refuses
        decide: (q) => {
          const store = config.TOKEN_EXCHANGE_POLICY_STORE
          try {
            if (authz.decide.check(store, [`client:${q.clientId}`, q.audience, q.mode]).allowed)
              return { allowed: true }
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
        },
        onExchanged: (ctx, e) =>
          void audit.record({
            action: 'token.exchanged',
            outcome: 'success',
            actor: ctx.oidc.client?.clientId,
            target: e.subject,
            details: {
              mode: e.mode,
              audience: e.audience,
              scope: e.scope,
              expires_in: e.expiresIn,
              ...(e.act ? { act: e.act } : {}),
            },
            ip: clientIp(ctx),
            requestId: requestIdOf(ctx.req),
          }),
        onRefused: (ctx, e) =>
          void audit.record({
            action: 'token.exchanged',
            outcome: 'failure',
            actor: ctx.oidc.client?.clientId,
            target: null,
            details: {
              error: e.error,
              reason: e.description.slice(0, 300),
              audience: String(ctx.oidc.params?.resource ?? ctx.oidc.params?.audience ?? '').slice(0, 300),
            },
            ip: clientIp(ctx),
            requestId: requestIdOf(ctx.req),
          }),
      },
      apiKeyExchange: {
        verify: apikeys.verify,
        maxTtl: config.APIKEY_EXCHANGE_TTL,
        onExchanged: (ctx, e) =>
          void audit.record({
            action: 'apikey.exchanged',
            outcome: 'success',
            actor: e.owner,
            target: `apikey:${e.keyId}`,
            details: {
              client_id: ctx.oidc.client?.clientId,
              resource: e.resource,
              scope: e.scope,
              expires_in: e.expiresIn,
            },
            ip: clientIp(ctx),
            requestId: requestIdOf(ctx.req),
          }),
      },
    })
    hardenProvider(provider, logger)
    return provider
  }
  function onProviderEvent(name: string, args: unknown[]) {
    const raw = args[0] as
      | {
          oidc?: { client?: { clientId: string }; params?: Record<string, unknown>; session?: { accountId?: string } }
          ip?: string
          req?: IncomingMessage
        }
      | undefined
    // oidc-provider's context is its own Koa app's: our request id is found by the raw request
    const ctx = raw && { oidc: raw.oidc, ip: raw.ip, state: { requestId: requestIdOf(raw.req) } }
    if (name === 'server_error') {
      // a database/Redis outage is answered with 503 (oidc/unavailable.ts): one line, no stack
      if (isDependencyUnavailable(args[1]))
        logger.warn({ err: (args[1] as Error)?.message, requestId: ctx?.state.requestId }, 'dependency unavailable')
      else logger.error({ err: args[1], requestId: ctx?.state.requestId }, 'oidc-provider server error')
      return
    }
    if (name === 'grant.success') {
      void audit.record({
        action: 'token.issued',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        details: { grant_type: ctx?.oidc?.params?.grant_type },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'grant.revoked') {
      void audit.record({
        action: 'grant.revoked',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: String(args[1]),
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'grant.error') {
      const err = args[1] as { error?: string }
      void audit.record({
        action: 'token.issued',
        outcome: 'failure',
        actor: ctx?.oidc?.client?.clientId,
        details: { grant_type: ctx?.oidc?.params?.grant_type, error: err?.error },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'revocation.success') {
      // RFC 7009 revocation: recorded by grant and token kind, never the token itself.
      const token = args[1] as { kind?: string; grantId?: string } | undefined
      void audit.record({
        action: 'token.revoked',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: token?.grantId,
        details: { kind: token?.kind },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'client.ip_denied') {
      // A client with `allowed_ips` called from elsewhere (client-ip-allowlist.ts).
      const d = args[1] as { clientId: string; ip: string; route: string }
      void audit.record({
        action: 'client.ip_denied',
        outcome: 'failure',
        actor: d.clientId,
        details: { endpoint: d.route },
        ip: d.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'backchannel.success' || name === 'backchannel.error') {
      // the logout tokens oidc-provider sent at the end-session endpoint (Back-Channel Logout 1.0)
      const failed = name === 'backchannel.error'
      const [err, client, accountId] = (failed ? args.slice(1) : [undefined, ...args.slice(1)]) as [
        Error | undefined,
        { clientId?: string } | undefined,
        string | undefined,
      ]
      void audit.record({
        action: 'logout.backchannel',
        outcome: failed ? 'failure' : 'success',
        actor: null,
        target: accountId ?? null,
        details: {
          client_id: client?.clientId,
          trigger: 'end_session',
          ...(err ? { error: String(err.message).slice(0, 300) } : {}),
        },
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    } else if (name === 'end_session.success') {
      // Names the account signed out (RP-initiated logout, or A's session ended by B's sign-in).
      void audit.record({
        action: 'logout',
        outcome: 'success',
        actor: ctx?.oidc?.client?.clientId,
        target: ctx?.oidc?.session?.accountId ?? null,
        ip: ctx?.ip,
        requestId: ctx?.state?.requestId,
      })
    }
  }

  const current = () => {
    if (!provider) throw new Error('provider not loaded: call container.loadProvider() first')
    return provider
  }

  /**
   * Rebuilds the provider when the published keys (rotation on any instance) or the resource
   * scopes changed. Servers call it every KEYS_REFRESH_INTERVAL and on a configuration notice;
   * writers call it right away.
   */
  async function refresh() {
    await keys.retireDue()
    if ((await fingerprint()).value !== providerFingerprint) {
      await loadProvider()
      logger.info('signing keys or resources changed; provider reloaded')
      return true
    }
    return false
  }
  // Clients, resources and scopes changed by an import (often another process: `portcullis
  // import` while servers run) reach every instance at once: Redis pub/sub when configured,
  // else a sub-second poll of a generation in the settings table (db/change-notice.ts).
  const configNotice = changeNotice({
    settings: queries.settings,
    key: 'config:generation',
    redis,
    channel: `${config.REDIS_PREFIX}config:changed`,
    logger,
    label: 'configuration changes',
    onChange: () => {
      configCachesClear()
      // identity providers changed through the admin API or an import elsewhere
      federation.invalidate()
      // API keys cache their owner's details, read through the client cache: an owner read
      // between the API-key notice and this one may have seen the old client (apikeys/owners.ts).
      apikeys.clearCache()
      return refresh()
    },
  })

  /** Sign-in through upstream identity providers (issue 14 §6, federation/). */
  const federation = federationService({
    queries: federationQueries(db),
    ring: master.ring,
    users,
    audit,
    publicUrl: config.PUBLIC_URL,
    logger,
  })
  /** Shared Signals transmitter (ssf/): queues SETs in audited transactions; stopped in close(). */
  const ssf = ssfService({
    q: ssfQueries(db),
    keys,
    audit,
    logger,
    issuer: config.PUBLIC_URL,
    sealer: { seal: (t, ctx) => seal(master.ring, t, ctx), open: (t, ctx) => open(master.ring, t, ctx) },
    redis,
    redisPrefix: config.REDIS_PREFIX,
  })
  const stopSsf = ssf.start()
  const container = {
    config,
    logger,
    db,
    redis,
    masterKey: master,
    queries,
    users,
    audit,
    keys,
    clients: clientService(queries.clients, current, () => [...OIDC_SCOPES, ...API_SCOPE_NAMES, ...resourceScopes]),
    resources: queries.resources,
    settings: queries.settings,
    provider: current,
    loadProvider,
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
    bearerSchemes,
    verifyAccessToken,
    clientCert,
    authz,
    metrics,
    auditChain: auditChainInstance,
    monitor,
    compliance,
    apikeys,
    /** The scopes a set of user roles holds, per resource (oidc/holdings.ts). */
    holdings,
    /** Strong login (issue 3): c.login.mfa, .sessions, .lockout, .requireMfaForAll(). */
    login,
    /** Disabling and enabling accounts: sessions end and the owner's API keys stop everywhere. */
    accounts: accountStatus({ users, sessions: login.sessions, audit, ownersChanged: () => apikeys.ownersChanged() }),
    federation,
    ssf,
    /** Outgoing mail through the outbox (mail/service.ts); servers call startMail(). */
    mail,
    /** Delivers queued mail in the background; without SMTP_URL says loudly where mails go. */
    startMail() {
      if (!config.SMTP_URL)
        logger.warn(
          { dir: path.join(config.DATA_DIR, 'mail') },
          'SMTP_URL is not set: mails (password reset links, ...) are NOT sent but written as .eml files to DATA_DIR/mail. Set SMTP_URL and MAIL_FROM to send them.',
        )
      else logger.info({ transport: mail.transport }, 'outgoing mail enabled')
      mail.start()
      // Used and expired mailed links are only kept a day (their hashes are useless after expiry).
      pruneTimer ??= setInterval(() => {
        emailTokens
          .prune(new Date(Date.now() - 86_400_000))
          .catch((err: Error) => logger.warn({ err: err.message }, 'pruning expired mail links failed'))
      }, 3_600_000).unref()
    },
    emailTokens,
    passwordReset,
    emailVerification,
    /** Self-registration (identity/registration.ts) and its anti-automation challenge. */
    registration,
    signupChallenge,
    /** Security notices (identity/security-notices.ts). */
    notices,
    /** The client IP of a request (socket, or X-Forwarded-For from TRUSTED_PROXIES). */
    clientIp,
    refresh,
    /**
     * After clients, resources or scopes changed here (an import): every other instance
     * reloads what depends on them (the provider's scopes, API-key owner details) at once.
     */
    async configChanged() {
      configCachesClear()
      await configNotice.announce()
      await apikeys.ownersChanged()
    },
    readiness: {
      database: () => pingDb(db),
      ...(redis
        ? {
            redis: async () => {
              await redis.ping()
            },
          }
        : {}),
      // The audit writer: not ready while records wait behind a write the database refuses.
      audit: async () => {
        const h = audit.health()
        if (!h.ok)
          throw new Error(`audit writer failing since ${h.failingSince?.toISOString()}: ${h.pending} records waiting`)
      },
    } as Record<string, () => Promise<void>>,
    async close() {
      await configNotice.stop()
      await revocations.stop()
      if (pruneTimer) clearInterval(pruneTimer)
      await passwordReset.settled()
      await mail.stop()
      await apikeys.stop()
      await stopSsf()
      await ssf.pushDue()
      await auditChainInstance.stop()
      monitor.stop()
      await audit.close()
      await authz.registry.stop()
      await redis?.quit().catch(() => redis.disconnect())
      await db.$disconnect()
    },
  }
  await loadProvider()
  await authz.registry.start()
  await apikeys.start()
  await configNotice.start()
  await revocations.start()
  return container
}
export type Container = Awaited<ReturnType<typeof createContainer>>

/** Cookie signing keys derived from the master keys (current first), so they survive restarts. */
function cookieKeys(ring: Keyring): string[] {
  const ids = [ring.currentId, ...[...ring.keys.keys()].filter((k) => k !== ring.currentId)]
  return ids.map((id) => deriveKey(ring.keys.get(id)!, 'cookies').toString('base64url'))
}

import type { Config } from './config/env.ts'
import { createLogger, type Logger } from './logger.ts'
import { loadMasterKey } from './crypto/master-key.ts'
import { createMetrics } from './metrics/registry.ts'
import { pick, type FeatureModule } from './module.ts'
import { storageModule } from './db/module.ts'
import { signingKeysModule, oidcModule, providerModule } from './oidc/module.ts'
import { auditModule } from './audit/module.ts'
import { mailModule } from './mail/module.ts'
import { identityModule } from './identity/module.ts'
import { ssfModule } from './ssf/module.ts'
import { adminModule } from './admin/module.ts'
import { authzModule } from './authz/module.ts'
import { apiKeysModule } from './apikeys/module.ts'
import { federationModule } from './federation/module.ts'

/**
 * The composition root: configuration, then the feature modules in start order, as one plain
 * typed object. Each module (src/<feature>/module.ts) declares the narrow dependencies it needs;
 * they start in this order and stop in reverse. Nothing here listens on a port (see server.ts)
 * or applies migrations (see main.ts), so tests build a container on a test database and use
 * `buildApp` directly. docs/architecture.md "Modules and data flow" draws this list.
 */
export async function createContainer(config: Readonly<Config>, opts: { logger?: Logger } = {}) {
  const logger = opts.logger ?? createLogger(config.LOG_LEVEL)
  const masterKey = loadMasterKey({
    value: config.PORTCULLIS_MASTER_KEY,
    embedded: config.embedded,
    dataDir: config.DATA_DIR,
  })
  const { ring } = masterKey
  const { REDIS_PREFIX: redisPrefix, PUBLIC_URL: publicUrl } = config
  // Metrics registry (c.metrics): features increment their counters and register their gauges.
  const metrics = createMetrics()
  const storage = await storageModule({ config, logger })
  const { db, redis, settings } = storage
  // What most modules take besides the features before them; each declares what it uses.
  const shared = { config, logger, db, redis, ring, settings }
  const signing = signingKeysModule({ db, ring, metrics })
  const { keys } = signing
  const auditing = auditModule({ ...shared, metrics, keys })
  const { audit, compliance } = auditing
  const mailing = mailModule({ ...shared, metrics })
  const identity = identityModule({
    ...shared,
    ...{ audit, compliance, mail: mailing.mail },
    auditQueries: auditing.queries,
    startMailDelivery: mailing.startDelivery,
    // both come later in start order; called only once the container runs
    endOidcSession: (uid) => provider.endOidcSession(uid),
    ownersChanged: () => apikeys.apikeys.ownersChanged(),
  })
  const { users, login } = identity
  const signals = ssfModule({ db, keys, audit, logger, issuer: publicUrl, ring, redis, redisPrefix })
  const admin = adminModule()
  const policies = authzModule({ db, logger, redis, redisPrefix, audit, metrics, builtinStores: admin.builtinStores })
  const { authz } = policies
  const oidc = oidcModule(shared)
  const { holdings, clientIp } = oidc
  const apikeys = apiKeysModule({
    ...shared,
    ...{ audit, users, holdings, clientIp, compliance, metrics },
    ...{ clients: oidc.queries.clients, cachedClients: { find: oidc.cached.clients.get }, monitor: auditing.monitor },
  })
  const upstream = federationModule({ db, ring, users, audit, publicUrl, logger })
  const { federation } = upstream
  const provider = providerModule({
    ...shared,
    ...{ keys, audit, users, login, oidc, federation },
    ...{ decide: authz.decide, holdsAdminRole: admin.holdsAdminRole(authz.stores), apikeys: apikeys.apikeys },
  })
  // In start order; close() stops them in reverse.
  const modules: FeatureModule[] = [
    storage,
    signing,
    auditing,
    mailing,
    identity,
    signals,
    admin,
    policies,
    oidc,
    apikeys,
    upstream,
    provider,
  ]
  const container = {
    ...{ config, logger, db, redis, masterKey, users, audit, keys, authz, metrics, compliance, login, federation },
    ...{ holdings, clientIp, settings, resources: oidc.queries.resources, apikeys: apikeys.apikeys, ssf: signals.ssf },
    queries: {
      ...{ users: identity.queries.users, audit: auditing.queries, payloads: oidc.queries.payloads, settings },
      ...{ clients: oidc.queries.clients, resources: oidc.queries.resources, keys: signing.queries },
      ...{ policies: policies.queries, apikeys: apikeys.queries, revokedTokens: oidc.queries.revokedTokens },
    },
    ...pick(provider, 'clients', 'provider', 'loadProvider', 'createInitialAccessToken', 'refresh', 'configChanged'),
    ...pick(oidc, 'verifyAccessToken', 'clientCert'),
    ...pick(auditing, 'auditChain', 'monitor'),
    /** Outgoing mail through the outbox (mail/service.ts); servers call startMail(). */
    mail: mailing.mail,
    // accounts (disable/enable), startMail, mailed links, self-registration, security notices
    ...pick(identity, 'accounts', 'startMail', 'emailTokens', 'passwordReset', 'emailVerification'),
    ...pick(identity, 'registration', 'signupChallenge', 'notices'),
    bearerSchemes: [oidc.accessTokenScheme, apikeys.bearerScheme],
    readiness: { ...storage.readiness, ...auditing.readiness } as Record<string, () => Promise<void>>,
    /** Stops every module in reverse start order; the database and Redis go last. */
    async close() {
      for (const m of [...modules].reverse()) await m.stop?.()
    },
  }
  for (const m of modules) await m.start?.()
  return container
}
export type Container = Awaited<ReturnType<typeof createContainer>>

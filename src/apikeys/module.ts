import type { Redis } from 'ioredis'
import type { AuditLog } from '../audit/log.ts'
import type { Compliance } from '../audit/report.ts'
import type { SecurityMonitor } from '../audit/detectors.ts'
import type { Config } from '../config/env.ts'
import type { Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { SettingQueries } from '../db/settings.ts'
import type { ClientIp } from '../http/client-ip.ts'
import type { UserService } from '../identity/users.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { FeatureModule } from '../module.ts'
import type { HoldingsOf } from '../oidc/holdings.ts'
import type { ClientQueries } from '../oidc/queries/clients.ts'
import { ownerDirectory } from './owners.ts'
import { apiKeyQueries } from './queries.ts'
import { apiKeyBearerScheme } from './scheme.ts'
import { apiKeyService } from './service.ts'

export interface ApiKeysModuleDeps {
  config: Readonly<Config>
  logger: Logger
  db: Db
  redis?: Redis
  ring: Keyring
  settings: SettingQueries
  audit: AuditLog
  users: UserService
  /** the clients table, and the in-memory lookup the token endpoint uses (oidc/module.ts) */
  clients: Pick<ClientQueries, 'find'>
  cachedClients: Pick<ClientQueries, 'find'>
  holdings: HoldingsOf
  clientIp: ClientIp
  monitor: Pick<SecurityMonitor, 'apiKeyRejected'>
  compliance: Pick<Compliance, 'provide' | 'providers'>
  metrics: Pick<Metrics, 'gaugeSource' | 'apiKeysNearExpiry'>
}

/**
 * API keys: `Authorization: Bearer pcs_...` on every portcullis API. Keys are cached on every
 * instance (dropped everywhere on a change), last use is recorded in batches, and expiry warnings
 * become audit events hourly once started.
 */
export function apiKeysModule(deps: ApiKeysModuleDeps) {
  const { config, metrics } = deps
  const queries = apiKeyQueries(deps.db)
  const apikeys = apiKeyService({
    queries,
    owners: ownerDirectory({
      users: deps.users,
      clients: deps.clients,
      cachedClients: deps.cachedClients,
      holdings: deps.holdings,
    }),
    ring: deps.ring,
    audit: deps.audit,
    settings: deps.settings,
    logger: deps.logger,
    redis: deps.redis,
    redisPrefix: config.REDIS_PREFIX,
    options: {
      maxSkew: config.APIKEY_SIGNATURE_MAX_SKEW,
      rotationGrace: config.APIKEY_ROTATION_GRACE,
      expiryWarning: config.API_KEY_EXPIRY_WARNING_DAYS * 86400,
    },
    onRejected: (e) => void deps.monitor.apiKeyRejected(e),
  })
  // The compliance report lists every key.
  const listForReport = async () =>
    (await apikeys.list()).map((k) => ({
      id: k.id,
      name: k.name,
      owner: `${k.ownerType}:${k.ownerId}`,
      scopes: k.scopes,
      createdAt: k.createdAt,
      lastUsedAt: k.lastUsedAt,
      expiresAt: k.expiresAt,
      revoked: Boolean(k.revokedAt),
    }))
  deps.compliance.provide({ apiKeys: listForReport })
  // The gauge counts what the compliance report lists (whichever provider fills it), so the two agree.
  metrics.gaugeSource(metrics.apiKeysNearExpiry, async () => {
    const list = deps.compliance.providers.apiKeys ?? listForReport
    const now = Date.now()
    const warn = now + config.API_KEY_EXPIRY_WARNING_DAYS * 86_400_000
    metrics.apiKeysNearExpiry.set(
      (await list()).filter(
        (k) => !k.revoked && k.expiresAt && k.expiresAt.getTime() > now && k.expiresAt.getTime() <= warn,
      ).length,
    )
  })
  return {
    queries,
    apikeys,
    bearerScheme: apiKeyBearerScheme({ verify: apikeys.verify, clientIp: deps.clientIp, publicUrl: config.PUBLIC_URL }),
    start: () => apikeys.start(),
    stop: () => apikeys.stop(),
  } satisfies FeatureModule
}

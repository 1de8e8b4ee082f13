import type { Redis } from 'ioredis'
import type { Config } from '../config/env.ts'
import type { Db } from '../db/client.ts'
import { isPostgres } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { FeatureModule } from '../module.ts'
import type { KeyStore } from '../oidc/keys.ts'
import { parseAdminWindow, type AdminWindow } from './admin-window.ts'
import { redisWindows } from './detector-windows.ts'
import { securityMonitor } from './detectors.ts'
import { auditLog } from './log.ts'
import { auditMetrics } from './observe-metrics.ts'
import { auditQueries } from './queries.ts'
import { complianceProviders } from './report.ts'
import { auditChain, outboxTargets } from './service.ts'

export interface AuditModuleDeps {
  config: Readonly<Config>
  logger: Logger
  db: Db
  redis?: Redis
  metrics: Metrics
  /** checkpoints are signed with the published signing keys */
  keys: KeyStore
}

/**
 * The audit log, early in start order because every later feature records into it: records
 * are batched and hash-chained; with a webhook or syslog target each also goes to the outbox.
 * Also the chain's checkpoints and outbox delivery, the security detectors that observe records
 * as they are written, and the compliance report other features plug sections into.
 */
export function auditModule(deps: AuditModuleDeps) {
  const { config, logger, metrics, redis } = deps
  const queries = auditQueries(deps.db, { postgres: isPostgres(config.DATABASE_URL) })
  const audit = auditLog(queries, logger, {
    outbox: outboxTargets(config),
    onFailure: () => metrics.auditWriteFailures.inc(),
  })
  auditMetrics(audit, queries, metrics)
  const chain = auditChain({ queries, log: audit, keys: deps.keys, config, logger, metrics })
  // Security detectors observe audit events as they are recorded (c.monitor.apiKeyRejected is the API-key hook).
  const monitor = securityMonitor({
    audit,
    queries,
    logger,
    onAlert: (kind) => metrics.alerts.inc({ kind }),
    // With Redis every instance counts into the same windows (an attack spread by a load
    // balancer is seen whole) and an alert fires once for the cluster.
    ...(redis ? { windows: redisWindows(redis, config.REDIS_PREFIX) } : {}),
    settings: config.AUDIT_ADMIN_WINDOW
      ? { adminWindow: parseAdminWindow(config.AUDIT_ADMIN_WINDOW) as AdminWindow }
      : {},
  })
  return {
    queries,
    audit,
    auditChain: chain,
    monitor,
    /** Compliance report providers other features plug in (MFA factors, API keys, policy changes). */
    compliance: complianceProviders(),
    readiness: {
      // The audit writer: not ready while records wait behind a write the database refuses.
      audit: async () => {
        const h = audit.health()
        if (!h.ok)
          throw new Error(`audit writer failing since ${h.failingSince?.toISOString()}: ${h.pending} records waiting`)
      },
    },
    async stop() {
      await chain.stop()
      monitor.stop()
      await audit.close()
    },
  } satisfies FeatureModule
}

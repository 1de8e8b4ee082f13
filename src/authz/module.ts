import type { Redis } from 'ioredis'
import type { AuditLog } from '../audit/log.ts'
import type { Db } from '../db/client.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { FeatureModule } from '../module.ts'
import { decider } from './decide.ts'
import { enginePort } from './engine-port.ts'
import { policyQueries } from './queries.ts'
import { policyRegistry } from './registry.ts'
import { policyStores } from './stores.ts'

export interface AuthzModuleDeps {
  db: Db
  logger: Logger
  redis?: Redis
  redisPrefix: string
  audit: AuditLog
  metrics: Pick<Metrics, 'policyDecisions' | 'policyDecisionDuration' | 'policyVersion' | 'gaugeSource'>
  /** Invariants and reserved names of built-in stores (admin/module.ts: the `system` store). */
  builtinStores: {
    guards: NonNullable<Parameters<typeof policyStores>[0]['guards']>
    reserved: Record<string, string>
  }
}

/**
 * The policy decision point: stores in the database, every store's current version in memory,
 * kept current on every instance (Redis pub/sub, else a poll) once started.
 */
export function authzModule(deps: AuthzModuleDeps) {
  const { metrics } = deps
  const queries = policyQueries(deps.db)
  const registry = policyRegistry({
    queries,
    engine: enginePort,
    logger: deps.logger,
    redis: deps.redis,
    redisPrefix: deps.redisPrefix,
  })
  const authz = {
    engine: enginePort,
    registry,
    stores: policyStores({
      queries,
      engine: enginePort,
      audit: deps.audit,
      onCommit: (store, version) => registry.committed(store, version),
      guards: deps.builtinStores.guards,
      reserved: deps.builtinStores.reserved,
    }),
    decide: decider(registry, (store, allowed, seconds) => {
      metrics.policyDecisions.inc({ store, outcome: allowed ? 'allow' : 'deny' })
      metrics.policyDecisionDuration.observe({ store }, seconds)
    }),
  }
  metrics.gaugeSource(metrics.policyVersion, () => {
    metrics.policyVersion.reset()
    for (const name of registry.names()) metrics.policyVersion.set({ store: name }, registry.get(name)?.version ?? 0)
  })
  return {
    queries,
    authz,
    start: () => registry.start(),
    stop: () => registry.stop(),
  } satisfies FeatureModule
}

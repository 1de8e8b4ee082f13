import type { Logger } from 'pino'
import type { KeyStore } from '../oidc/keys.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { AuditLog } from './log.ts'
import type { AuditQueries } from './queries.ts'
import { checkpointSigner, checkpointTimer, takeCheckpoint, type CheckpointKind } from './checkpoints.ts'
import { verifyChain } from './verify.ts'
import { pruneOlderThan } from './retention.ts'
import { webhookDelivery } from './outbox.ts'
import { parseEventQuery, queryEvents } from './export.ts'

export interface AuditChainConfig {
  PUBLIC_URL: string
  AUDIT_CHECKPOINT_INTERVAL: number
  AUDIT_RETENTION_DAYS: number
  AUDIT_WEBHOOK_URL?: string
  AUDIT_WEBHOOK_SECRET?: string
}

/**
 * Everything around the chain other than appending: checkpoints, verification, retention,
 * queries, webhook delivery, and the background work a server runs (periodic checkpoints,
 * outbox delivery). CLI commands use the same object without starting the background.
 */
export function auditChain(deps: { queries: AuditQueries; log: AuditLog; keys: KeyStore; config: AuditChainConfig; logger: Logger; metrics: Metrics }) {
  const { queries: q, config, logger } = deps
  const signer = checkpointSigner({ keys: deps.keys, issuer: config.PUBLIC_URL })
  const webhook = config.AUDIT_WEBHOOK_URL
    ? webhookDelivery(q, logger, { url: config.AUDIT_WEBHOOK_URL, secret: config.AUDIT_WEBHOOK_SECRET })
    : undefined
  if (webhook) deps.log.onCommitted(() => webhook.kick())
  const stops: (() => void | Promise<void>)[] = []

  return {
    signer,
    webhook,
    checkpoint: (kind: CheckpointKind = 'manual') => takeCheckpoint(q, signer, kind),
    verify: () => verifyChain(q, signer, deps.keys),
    async prune(days = config.AUDIT_RETENTION_DAYS, actor = 'system', now?: Date) {
      await deps.log.flush()
      return pruneOlderThan(q, signer, (e) => deps.log.record(e), days, { actor, now })
    },
    query: (input: Record<string, unknown>) => queryEvents(q, parseEventQuery(input)),
    /** Periodic checkpoints and webhook delivery (servers only). */
    startBackground() {
      stops.push(checkpointTimer(q, signer, config.AUDIT_CHECKPOINT_INTERVAL, (err) => logger.warn({ err }, 'audit checkpoint failed')))
      if (webhook) {
        webhook.start()
        stops.push(() => webhook.stop())
      }
    },
    async stop() {
      for (const s of stops.splice(0)) await s()
    },
  }
}
export type AuditChain = ReturnType<typeof auditChain>

import type { Logger } from 'pino'
import type { KeyStore } from '../oidc/keys.ts'
import type { Metrics } from '../metrics/registry.ts'
import type { AuditLog } from './log.ts'
import type { AuditQueries } from './queries.ts'
import { checkpointSigner, checkpointTimer, takeCheckpoint, type CheckpointKind } from './checkpoints.ts'
import { verifyChain } from './verify.ts'
import { pruneOlderThan } from './retention.ts'
import { webhookDelivery, webhookOutbox, type OutboxDelivery } from './outbox.ts'
import { syslogDelivery, syslogOutbox, type SyslogFormat } from './syslog.ts'
import type { OutboxTarget } from './queries.ts'
import { parseEventQuery, queryEvents } from './export.ts'

export interface AuditChainConfig {
  PUBLIC_URL: string
  AUDIT_CHECKPOINT_INTERVAL: number
  AUDIT_RETENTION_DAYS: number
  AUDIT_WEBHOOK_URL?: string
  AUDIT_WEBHOOK_SECRET?: string
  AUDIT_SYSLOG_URL?: string
  AUDIT_SYSLOG_FORMAT?: SyslogFormat
}

/** What the appender writes to the outbox for each record: one row per configured target. */
export function outboxTargets(
  config: Pick<AuditChainConfig, 'AUDIT_WEBHOOK_URL' | 'AUDIT_SYSLOG_URL' | 'AUDIT_SYSLOG_FORMAT'>,
): OutboxTarget[] | undefined {
  const targets: OutboxTarget[] = []
  if (config.AUDIT_WEBHOOK_URL) targets.push(webhookOutbox)
  if (config.AUDIT_SYSLOG_URL) targets.push(syslogOutbox(config.AUDIT_SYSLOG_FORMAT ?? 'cef'))
  return targets.length ? targets : undefined
}

/**
 * Everything around the chain other than appending: checkpoints, verification, retention,
 * queries, webhook and syslog delivery, and the background work a server runs (periodic
 * checkpoints, outbox delivery). CLI commands use the same object without starting the background.
 */
export function auditChain(deps: {
  queries: AuditQueries
  log: AuditLog
  keys: KeyStore
  config: AuditChainConfig
  logger: Logger
  metrics: Metrics
}) {
  const { queries: q, config, logger } = deps
  const signer = checkpointSigner({ keys: deps.keys, issuer: config.PUBLIC_URL })
  const webhook = config.AUDIT_WEBHOOK_URL
    ? webhookDelivery(q, logger, { url: config.AUDIT_WEBHOOK_URL, secret: config.AUDIT_WEBHOOK_SECRET })
    : undefined
  const syslog = config.AUDIT_SYSLOG_URL ? syslogDelivery(q, logger, { url: config.AUDIT_SYSLOG_URL }) : undefined
  const deliveries: OutboxDelivery[] = [webhook, syslog].filter((d) => d !== undefined)
  for (const d of deliveries) deps.log.onCommitted(() => d.kick())
  const stops: (() => void | Promise<void>)[] = []

  return {
    signer,
    webhook,
    syslog,
    checkpoint: (kind: CheckpointKind = 'manual') => takeCheckpoint(q, signer, kind),
    verify: () => verifyChain(q, signer, deps.keys),
    async prune(days = config.AUDIT_RETENTION_DAYS, actor = 'system', now?: Date) {
      await deps.log.flush()
      return pruneOlderThan(q, signer, (e) => deps.log.record(e), days, { actor, now })
    },
    query: (input: Record<string, unknown>) => queryEvents(q, parseEventQuery(input)),
    /** Periodic checkpoints and outbox delivery to each target (servers only). */
    startBackground() {
      stops.push(
        checkpointTimer(q, signer, config.AUDIT_CHECKPOINT_INTERVAL, (err) =>
          logger.warn({ err }, 'audit checkpoint failed'),
        ),
      )
      for (const d of deliveries) {
        d.start()
        stops.push(() => d.stop())
      }
      // Rows of a target that is no longer configured stay until it is configured again: say so.
      void q.outbox.pendingByTarget().then(
        (pending) => {
          for (const [target, n] of Object.entries(pending)) {
            if (!deliveries.some((d) => d.target === target))
              logger.warn(
                { target, pending: n },
                `audit outbox holds records for ${target}, which is not configured; they are kept until it is`,
              )
          }
        },
        (err: unknown) => logger.warn({ err }, 'audit outbox read failed'),
      )
    },
    async stop() {
      for (const s of stops.splice(0)) await s()
    },
  }
}
export type AuditChain = ReturnType<typeof auditChain>

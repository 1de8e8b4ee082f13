import type { Logger } from 'pino'
import type { AuditInput, AuditQueries, AuditRow, PreparedRecord } from './queries.ts'
import { appender, type AppenderOptions } from './append.ts'
import { column, sanitizeDetails } from './canonical.ts'

export type { AuditInput } from './queries.ts'

/** An event as observers (detectors, metrics) see it: recorded, maybe not yet committed. */
export type AuditEventView = PreparedRecord & { parsedDetails: Record<string, unknown> }
export type AuditObserver = (e: AuditEventView) => void

/**
 * The security event log. Recording never fails the caller's request: records are queued and
 * written in batches within a few milliseconds (append.ts); a write error is logged loudly and
 * retried (a record the database refuses is isolated, escaped or dropped, never retried
 * forever), because refusing a login because the log is down would turn an audit outage into an
 * authentication outage. `await record()` waits for the commit (bounded); `void record()`
 * does not wait at all.
 *
 * Observers (security detectors, metrics) see every event synchronously as it is recorded.
 */
export function auditLog(q: AuditQueries, logger: Logger, opts: Omit<AppenderOptions, 'onCommitted'> = {}) {
  const observers = new Set<AuditObserver>()
  const committed = new Set<(rows: AuditRow[]) => void>()
  const writer = appender(q, logger, { ...opts, onCommitted: (rows) => { for (const f of committed) f(rows) } })

  return {
    record(e: AuditInput): Promise<void> {
      let record: PreparedRecord
      try {
        record = {
          time: new Date(),
          actor: column(e.actor),
          action: column(String(e.action), 128) ?? '',
          target: column(e.target),
          outcome: column(String(e.outcome), 16) ?? '',
          ip: column(e.ip, 64),
          userAgent: column(e.userAgent),
          requestId: column(e.requestId, 128),
          details: sanitizeDetails(e.details),
        }
      } catch (err) {
        logger.error({ err, action: e?.action }, 'audit record rejected')
        return Promise.resolve()
      }
      if (observers.size) {
        const view = { ...record, parsedDetails: JSON.parse(record.details) as Record<string, unknown> }
        for (const o of observers) {
          try {
            o(view)
          } catch (err) {
            logger.warn({ err, action: record.action }, 'audit observer failed')
          }
        }
      }
      return writer.enqueue(record)
    },
    /** Every recorded event, synchronously (keep it cheap; do async work detached). */
    observe(fn: AuditObserver) {
      observers.add(fn)
      return () => observers.delete(fn)
    },
    /** Rows as committed (with seq and hash). */
    onCommitted(fn: (rows: AuditRow[]) => void) {
      committed.add(fn)
    },
    async list(filter: { action?: string; actor?: string; limit?: number } = {}) {
      await writer.flush()
      return q.list(filter)
    },
    flush: () => writer.flush(),
    pending: () => writer.pending(),
    /** The writer's state for /readyz: not ok while records wait behind a failing write. */
    health: () => writer.health(),
    close: () => writer.close(),
  }
}
export type AuditLog = ReturnType<typeof auditLog>

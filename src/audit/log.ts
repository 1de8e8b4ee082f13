import type { Logger } from 'pino'
import type { AuditInput, AuditQueries, AuditRow, PreparedRecord } from './queries.ts'
import { appender, type AppenderOptions } from './append.ts'
import { column, sanitizeDetails } from './canonical.ts'
import type { Audited, Tx } from '../db/audited.ts'

export type { AuditInput } from './queries.ts'

/** An event as observers (detectors, metrics) see it: recorded, maybe not yet committed. */
export type AuditEventView = PreparedRecord & { parsedDetails: Record<string, unknown> }
export type AuditObserver = (e: AuditEventView) => void
/**
 * Work that must commit with a state change and its record (e.g. the Shared Signals outbox):
 * runs inside the change's transaction, after its records were inserted; a throw rolls the
 * change back. What it returns runs once the transaction committed.
 */
export type AuditTxHook = (tx: Tx, events: readonly AuditEventView[]) => Promise<(() => void) | void>

/**
 * The security event log. Recording never fails the caller's request: records are queued and
 * written in batches within a few milliseconds (append.ts); a write error is logged loudly and
 * retried (a record the database refuses is isolated, escaped or dropped, never retried
 * forever), because refusing a login because the log is down would turn an audit outage into an
 * authentication outage. `await record()` waits for the commit (bounded); `void record()`
 * does not wait at all.
 *
 * That fast path is for events that are not state changes (sign-in failures, decisions, token
 * issue). A state change records through `with()` instead: its record is stored in the change's
 * own transaction (db/audited.ts), so the change and its record commit together.
 *
 * Observers (security detectors, metrics) see every event synchronously as it is recorded
 * (a state change's once its transaction committed).
 */
export function auditLog(q: AuditQueries, logger: Logger, opts: Omit<AppenderOptions, 'onCommitted'> = {}) {
  const observers = new Set<AuditObserver>()
  const txHooks = new Set<AuditTxHook>()
  const committed = new Set<(rows: AuditRow[]) => void>()
  const writer = appender(q, logger, {
    ...opts,
    onCommitted: (rows) => {
      for (const f of committed) f(rows)
    },
  })

  /** The record in stored form, or undefined (logged) for one that cannot be made storable. */
  function prepare(e: AuditInput): PreparedRecord | undefined {
    try {
      return {
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
      return undefined
    }
  }

  function notify(record: PreparedRecord) {
    if (!observers.size) return
    const view = { ...record, parsedDetails: JSON.parse(record.details) as Record<string, unknown> }
    for (const o of observers) {
      try {
        o(view)
      } catch (err) {
        logger.warn({ err, action: record.action }, 'audit observer failed')
      }
    }
  }

  return {
    record(e: AuditInput): Promise<void> {
      const record = prepare(e)
      if (!record) return Promise.resolve()
      notify(record)
      return writer.enqueue(record)
    },
    /**
     * The audit side of a state change, for a queries module's `audited(db, audit, change)`:
     * the record(s) derived from the change's result are stored in its transaction; after the
     * commit the observers see them and the appender chains them (awaited like `record()`:
     * until chained, `maxWaitMs` at most; the record is durable either way).
     */
    with<T>(records: (result: T) => AuditInput | readonly AuditInput[] | null | undefined): Audited<T> {
      return {
        async write(tx, result) {
          const prepared = [records(result) ?? []]
            .flat()
            .map(prepare)
            .filter((r) => r !== undefined)
          const ids = prepared.length ? await q.pending.insert(tx, prepared) : []
          const afterCommit: (() => void)[] = []
          if (prepared.length && txHooks.size) {
            const views = prepared.map((r) => ({
              ...r,
              parsedDetails: JSON.parse(r.details) as Record<string, unknown>,
            }))
            for (const h of txHooks) {
              const after = await h(tx, views)
              if (after) afterCommit.push(after)
            }
          }
          return async () => {
            for (const f of afterCommit) f()
            for (const r of prepared) notify(r)
            await Promise.all(prepared.map((r, i) => writer.enqueue(r, ids[i])))
          }
        },
      }
    },
    /** Every recorded event, synchronously (keep it cheap; do async work detached). */
    observe(fn: AuditObserver) {
      observers.add(fn)
      return () => observers.delete(fn)
    },
    /** Work done inside every audited state change's transaction (see AuditTxHook). */
    inTransaction(fn: AuditTxHook) {
      txHooks.add(fn)
      return () => txHooks.delete(fn)
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
    /** Chains AuditPending rows nobody has queued (done at start and every few seconds anyway). */
    sweep: () => writer.sweep(),
    pending: () => writer.pending(),
    /** The writer's state for /readyz: not ok while records wait behind a failing write. */
    health: () => writer.health(),
    close: () => writer.close(),
  }
}
export type AuditLog = ReturnType<typeof auditLog>

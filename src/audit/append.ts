import type { Logger } from 'pino'
import type { AuditQueries, AuditRow, OutboxTarget, PreparedRecord } from './queries.ts'
import { canonicalJson } from './canonical.ts'

/**
 * The serialised, batched appender. Records queue in memory and are written together a few
 * milliseconds later, in one transaction under the chain lock (see queries.appendBatch), so a
 * burst of logins costs one lock round trip instead of one each. One flush at a time per
 * process; across processes the database lock orders them.
 *
 * A failed write keeps the records queued and retries with backoff; callers are never failed.
 * Each record's promise settles when it is committed, or after `maxWaitMs` at the latest, so
 * an awaiting request path is never held long by a slow database.
 *
 * One record the database refuses must not hold back the ones behind it: after a failed batch
 * the records are written one at a time until the failed batch is through, so a poisoned one
 * is alone; a record that fails `maxAttempts` times alone is written with every character
 * outside printable ASCII escaped (and an impossible time replaced by now), and if even that is
 * refused, an `audit.record_refused` record naming it takes its place. While the database
 * takes nothing at all, records wait (up to `maxQueue`) and `health()` says so.
 *
 * Records of state changes arrive already stored in the AuditPending outbox (written in the
 * change's transaction, db/audited.ts) and carry its row id: chaining one deletes its row in the
 * same transaction. Rows left behind by a process that died between its commit and the chain
 * (kill -9, power loss) are picked up by a sweep at start and every `sweepMs`, and go through
 * the same isolation and rescue as the rest: a poisoned one never blocks the others.
 */
export interface AppenderOptions {
  batchMs?: number
  maxBatch?: number
  /** how long record() may hold an awaiting caller */
  maxWaitMs?: number
  /** records kept in memory while the database is unreachable; the oldest are dropped beyond */
  maxQueue?: number
  /** attempts of a record written alone before it is stored escaped */
  maxAttempts?: number
  outbox?: readonly OutboxTarget[]
  /** how often to look for AuditPending rows nobody has queued (0: only at start and on flush()) */
  sweepMs?: number
  onCommitted?: (rows: AuditRow[]) => void
  onFailure?: (err: unknown, pending: number) => void
}

interface Pending {
  record: PreparedRecord
  /** its AuditPending row, for records of a state change */
  pendingId?: number
  done: () => void
  attempts: number
}

const json = (s: string) => JSON.stringify(s).slice(1, -1)
const asciiOnly = (s: string) =>
  json(s).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
const asciiColumn = (s: string | null) => (s === null ? null : asciiOnly(s))
// Years 1970-9999: what every database's timestamp type (and ISO 8601 without a sign) takes.
const storableTime = (t: Date) =>
  Number.isFinite(t.getTime()) && t.getUTCFullYear() >= 1970 && t.getUTCFullYear() <= 9999 ? t : new Date()

/**
 * A record in a form every database stores: printable ASCII only. The details stay a JSON
 * text (JSON's own \u escapes); the hash covers the escaped form, so the chain verifies.
 */
export function escapedRecord(r: PreparedRecord): PreparedRecord {
  return {
    time: storableTime(r.time),
    actor: asciiColumn(r.actor),
    action: asciiOnly(r.action),
    target: asciiColumn(r.target),
    outcome: asciiOnly(r.outcome),
    ip: asciiColumn(r.ip),
    userAgent: asciiColumn(r.userAgent),
    requestId: asciiColumn(r.requestId),
    details: r.details.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
  }
}

/** What stands in the chain for a record the database refused in every form: which one, and why. */
function refusalRecord(r: PreparedRecord, cause: unknown): PreparedRecord {
  const e = escapedRecord(r)
  const why = cause instanceof Error ? (cause.message.split('\n').filter(Boolean).pop() ?? cause.name) : String(cause)
  return {
    time: new Date(),
    actor: null,
    action: 'audit.record_refused',
    target: null,
    outcome: 'failure',
    ip: e.ip,
    userAgent: null,
    requestId: e.requestId,
    details: canonicalJson({
      action: e.action.slice(0, 128),
      actor: e.actor?.slice(0, 256) ?? null,
      target: e.target?.slice(0, 256) ?? null,
      outcome: e.outcome.slice(0, 16),
      error: asciiOnly(why).slice(0, 300),
    }),
  }
}

/** The options' defaults. */
const appenderLimits = (o: AppenderOptions) => ({
  batchMs: o.batchMs ?? 5,
  maxBatch: o.maxBatch ?? 500,
  maxWaitMs: o.maxWaitMs ?? 2000,
  maxQueue: o.maxQueue ?? 50_000,
  maxAttempts: o.maxAttempts ?? 3,
  sweepMs: o.sweepMs ?? 5000,
})

/** While the database takes nothing, memory is bounded: beyond `maxQueue` the oldest records go. */
function dropOldest(queue: Pending[], maxQueue: number, logger: Logger) {
  if (queue.length <= maxQueue) return
  const dropped = queue.splice(0, queue.length - maxQueue)
  for (const p of dropped) p.done()
  logger.error({ dropped: dropped.length }, 'audit queue full: oldest records dropped')
}

/**
 * A record that failed alone `maxAttempts` times: stored escaped; if the database refuses
 * even that, a small ASCII record that says which record was refused and why takes its place
 * in the chain. If that fails too, the database takes nothing: keep the record and retry.
 */
async function rescue(
  q: AuditQueries,
  logger: Logger,
  outbox: AppenderOptions['outbox'],
  committed: (batch: Pending[], rows: AuditRow[]) => void,
  p: Pending,
  cause: unknown,
): Promise<boolean> {
  const forms = [() => escapedRecord(p.record), () => refusalRecord(p.record, cause)]
  for (const [i, form] of forms.entries()) {
    try {
      committed([p], await q.appendBatch([form()], { outbox, pending: [p.pendingId] }))
      logger.error(
        { err: cause, action: p.record.action, attempts: p.attempts },
        i === 0
          ? 'audit record refused by the database; stored with its text escaped'
          : 'audit record refused by the database even escaped; an audit.record_refused record stands in for it',
      )
      return true
    } catch (err) {
      cause = err
    }
  }
  return false
}

/**
 * Queues the AuditPending rows nobody here has queued: left by a process that died after its
 * commit, or by another instance that has not chained them yet (then whichever chains first
 * wins; claimPending in queries.ts sees to it that a record enters the chain once).
 */
function outboxSweeper(
  q: AuditQueries,
  logger: Logger,
  maxBatch: number,
  /** the appender's queue (replaced as batches commit: read it after every await), its flush, and whether to stop */
  s: { queue: () => Pending[]; flush: () => Promise<void>; stop: () => boolean },
) {
  let sweeping: Promise<void> | undefined
  function sweep(): Promise<void> {
    sweeping ??= (async () => {
      for (;;) {
        const queued = s.queue().flatMap((p) => (p.pendingId === undefined ? [] : [p.pendingId]))
        // a long queue is being written anyway (and would not fit a query's parameter list): later
        if (queued.length > maxBatch) return
        const rows = await q.pending.oldest(maxBatch, queued)
        for (const { id, ...record } of rows) s.queue().push({ record, pendingId: id, attempts: 0, done: () => {} })
        if (rows.length) await s.flush()
        if (rows.length < maxBatch || s.stop()) return
      }
    })()
      .catch((err: unknown) => {
        logger.warn({ err }, 'audit outbox (AuditPending) read failed; will retry')
      })
      .finally(() => {
        sweeping = undefined
      })
    return sweeping
  }
  return { sweep, running: () => sweeping }
}

export function appender(q: AuditQueries, logger: Logger, o: AppenderOptions = {}) {
  const { batchMs, maxBatch, maxWaitMs, maxQueue, maxAttempts, sweepMs } = appenderLimits(o)
  let queue: Pending[] = []
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let failures = 0
  let closed = false

  function schedule(ms: number) {
    if (timer || closed) return
    timer = setTimeout(() => {
      timer = undefined
      void flush()
    }, ms)
  }

  let isolate = 0 // records still to write one at a time after a failed batch
  let failingSince: Date | undefined
  let lastError: string | undefined

  function committed(batch: Pending[], rows: AuditRow[]) {
    queue = queue.slice(batch.length)
    failures = 0
    failingSince = undefined
    lastError = undefined
    if (isolate) isolate = Math.max(0, isolate - batch.length)
    for (const p of batch) p.done()
    try {
      o.onCommitted?.(rows)
    } catch (err) {
      logger.warn({ err }, 'audit observer failed')
    }
  }

  async function writeAll() {
    while (queue.length) {
      const batch = queue.slice(0, isolate ? 1 : maxBatch)
      try {
        committed(
          batch,
          await q.appendBatch(
            batch.map((p) => p.record),
            { outbox: o.outbox, pending: batch.map((p) => p.pendingId) },
          ),
        )
      } catch (err) {
        failures += 1
        failingSince ??= new Date()
        lastError = err instanceof Error ? err.message.split('\n').filter(Boolean).pop() : String(err)
        o.onFailure?.(err, queue.length)
        if (batch.length > 1) isolate = Math.max(isolate, batch.length)
        else if (++batch[0]!.attempts >= maxAttempts && (await rescue(q, logger, o.outbox, committed, batch[0]!, err)))
          continue
        logger.error({ err, pending: queue.length, attempt: failures }, 'audit write failed; will retry')
        dropOldest(queue, maxQueue, logger)
        // A failed batch is retried at once, one record at a time; otherwise back off.
        if (batch.length > 1) continue
        throw err
      }
    }
  }

  /** Writes everything queued now; resolves when the queue is empty or a write failed. */
  function flush(): Promise<void> {
    running ??= writeAll()
      .catch(() => {
        if (!closed) schedule(Math.min(100 * 2 ** Math.min(failures, 6), 5000))
      })
      .finally(() => {
        running = undefined
        if (queue.length && !closed && failures === 0) schedule(0)
      })
    return running
  }

  const outbox = outboxSweeper(q, logger, maxBatch, { queue: () => queue, flush, stop: () => failures > 0 || closed })
  const sweep = () => outbox.sweep()
  const sweeper = sweepMs > 0 ? setInterval(() => void sweep(), sweepMs) : undefined
  sweeper?.unref()
  void sweep()

  return {
    /** Queues a record; `pendingId` is its AuditPending row when it was stored with a state change. */
    enqueue(record: PreparedRecord, pendingId?: number): Promise<void> {
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, maxWaitMs)
        t.unref()
        queue.push({
          record,
          pendingId,
          attempts: 0,
          done: () => {
            clearTimeout(t)
            resolve()
          },
        })
        if (queue.length >= maxBatch) void flush()
        else schedule(batchMs)
      })
    },
    /** Looks for AuditPending rows left behind and chains them (at start this runs by itself). */
    sweep,
    /** Waits until everything recorded so far is committed (or a write failed). */
    async flush() {
      while (queue.length || running) {
        if (running) await running
        else await flush()
        if (failures) return
      }
    },
    pending: () => queue.length,
    /** Whether the writer can write: false while records wait behind a failing write. */
    health: () => ({ ok: !(failures > 0 && queue.length > 0), pending: queue.length, failingSince, lastError }),
    /** Shutdown: flush, retrying a few times, then give up loudly. */
    async close() {
      if (sweeper) clearInterval(sweeper)
      await outbox.running()
      if (timer) clearTimeout(timer)
      timer = undefined
      for (let attempt = 0; attempt < 5 && (queue.length || running); attempt++) {
        failures = 0
        await this.flush()
        if (queue.length) await new Promise((r) => setTimeout(r, 200 * (attempt + 1)))
      }
      closed = true
      if (queue.length) logger.error({ lost: queue.length }, 'audit records could not be written before shutdown')
      for (const p of queue) p.done()
    },
  }
}
export type Appender = ReturnType<typeof appender>

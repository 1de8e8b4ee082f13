import type { Logger } from 'pino'
import type { AuditQueries, AuditRow, OutboxTarget, PreparedRecord } from './queries.ts'

/**
 * The serialised, batched appender. Records queue in memory and are written together a few
 * milliseconds later, in one transaction under the chain lock (see queries.appendBatch), so a
 * burst of logins costs one lock round trip instead of one each. One flush at a time per
 * process; across processes the database lock orders them.
 *
 * A failed write (database down) keeps the records queued and retries with backoff; callers
 * are never failed. Each record's promise settles when it is committed, or after `maxWaitMs`
 * at the latest, so an awaiting request path is never held long by a slow database.
 */
export interface AppenderOptions {
  batchMs?: number
  maxBatch?: number
  /** how long record() may hold an awaiting caller */
  maxWaitMs?: number
  /** records kept in memory while the database is unreachable; the oldest are dropped beyond */
  maxQueue?: number
  outbox?: readonly OutboxTarget[]
  onCommitted?: (rows: AuditRow[]) => void
  onFailure?: (err: unknown, pending: number) => void
}

interface Pending {
  record: PreparedRecord
  done: () => void
}

export function appender(q: AuditQueries, logger: Logger, o: AppenderOptions = {}) {
  const batchMs = o.batchMs ?? 5
  const maxBatch = o.maxBatch ?? 500
  const maxWaitMs = o.maxWaitMs ?? 2000
  const maxQueue = o.maxQueue ?? 50_000
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

  async function writeAll() {
    while (queue.length) {
      const batch = queue.slice(0, maxBatch)
      try {
        const rows = await q.appendBatch(batch.map((p) => p.record), { outbox: o.outbox })
        queue = queue.slice(batch.length)
        failures = 0
        for (const p of batch) p.done()
        try {
          o.onCommitted?.(rows)
        } catch (err) {
          logger.warn({ err }, 'audit observer failed')
        }
      } catch (err) {
        failures += 1
        o.onFailure?.(err, queue.length)
        logger.error({ err, pending: queue.length, attempt: failures }, 'audit write failed; will retry')
        if (queue.length > maxQueue) {
          const dropped = queue.splice(0, queue.length - maxQueue)
          for (const p of dropped) p.done()
          logger.error({ dropped: dropped.length }, 'audit queue full: oldest records dropped')
        }
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

  return {
    enqueue(record: PreparedRecord): Promise<void> {
      return new Promise<void>((resolve) => {
        const t = setTimeout(resolve, maxWaitMs)
        t.unref()
        queue.push({ record, done: () => { clearTimeout(t); resolve() } })
        if (queue.length >= maxBatch) void flush()
        else schedule(batchMs)
      })
    },
    /** Waits until everything recorded so far is committed (or a write failed). */
    async flush() {
      while (queue.length || running) {
        if (running) await running
        else await flush()
        if (failures) return
      }
    },
    pending: () => queue.length,
    /** Shutdown: flush, retrying a few times, then give up loudly. */
    async close() {
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

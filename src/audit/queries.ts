import type { AuditAction } from './actions.ts'
import type { Db, Prisma } from '../db/client.ts'
import type { Tx } from '../db/audited.ts'
import { GENESIS_HASH, recordHash } from './canonical.ts'

export interface AuditInput {
  actor?: string | null
  action: AuditAction
  target?: string | null
  outcome: 'success' | 'failure' | 'info'
  ip?: string | null
  userAgent?: string | null
  requestId?: string | null
  details?: Record<string, unknown>
}

/** A record ready to be chained: columns as stored, details already canonical JSON text. */
export interface PreparedRecord {
  time: Date
  actor: string | null
  action: string
  target: string | null
  outcome: string
  ip: string | null
  userAgent: string | null
  requestId: string | null
  details: string
}

export interface AuditRow extends PreparedRecord {
  seq: number
  prevHash: string | null
  hash: string | null
}

/** A streaming target's outbox rows: its name and what to store (and later send) for a record. */
export interface OutboxTarget {
  target: string
  payload: (r: AuditRow) => string
}

export interface EventFilter {
  actor?: string
  /** exact action, or a prefix when it ends with `*` (e.g. `alert.*`) */
  action?: string
  target?: string
  outcome?: string
  from?: Date
  to?: Date
}

export interface CheckpointRow {
  id: number
  seq: number
  hash: string
  kind: string
  kid: string
  jws: string
  createdAt: Date
}

// pg_advisory_xact_lock key for "append to the audit chain" (any constant shared by all instances).
const CHAIN_LOCK_KEY = 0x61756474 // 'audt'

function where(f: EventFilter): Prisma.AuditEventWhereInput {
  return {
    ...(f.actor ? { actor: f.actor } : {}),
    ...(f.action
      ? f.action.endsWith('*')
        ? { action: { startsWith: f.action.slice(0, -1) } }
        : { action: f.action }
      : {}),
    ...(f.target ? { target: f.target } : {}),
    ...(f.outcome ? { outcome: f.outcome } : {}),
    ...(f.from || f.to ? { time: { ...(f.from ? { gte: f.from } : {}), ...(f.to ? { lt: f.to } : {}) } } : {}),
  }
}

/**
 * Takes the chain's write lock inside the transaction. PostgreSQL: a transaction-scoped
 * advisory lock, so appenders on every instance queue here and each reads the tail the
 * previous one committed. SQLite: updating the lock row is the transaction's first write,
 * which takes the database's single write lock before the tail is read (a deferred
 * transaction that read first could not be upgraded safely under WAL).
 */
async function lockChain(tx: Prisma.TransactionClient, postgres: boolean) {
  if (postgres) await tx.$queryRawUnsafe(`SELECT 1 AS locked FROM pg_advisory_xact_lock(${CHAIN_LOCK_KEY})`)
  else await tx.auditLock.upsert({ where: { id: 1 }, create: { id: 1 }, update: { id: 1 } })
}

/**
 * Under the chain lock: the records to chain, of those that came from the AuditPending outbox
 * only the ones whose row is still there (another instance, or this one through a sweep, may
 * have chained it already), and those rows deleted in the same transaction, so each pending
 * record enters the chain exactly once.
 */
async function claimPending(
  tx: Prisma.TransactionClient,
  records: PreparedRecord[],
  pending: readonly (number | undefined)[] | undefined,
) {
  const ids = [...new Set((pending ?? []).filter((id) => id !== undefined))]
  if (!ids.length) return records
  const present = new Set(
    (await tx.auditPending.findMany({ where: { id: { in: ids } }, select: { id: true } })).map((r) => r.id),
  )
  if (present.size) await tx.auditPending.deleteMany({ where: { id: { in: [...present] } } })
  return records.filter((_, i) => {
    const id = pending?.[i]
    if (id === undefined) return true
    return present.delete(id) // false for a row gone already or listed twice in this batch
  })
}

const lastRow = (tx: Prisma.TransactionClient | Db) =>
  tx.auditEvent.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true, hash: true } })

export function auditQueries(db: Db, opts: { postgres?: boolean } = {}) {
  const postgres = opts.postgres ?? false

  return {
    postgres,
    /**
     * Appends records in order, chained to the current tail, in one transaction (with their
     * outbox rows, one per record and streaming target, so delivery survives a restart).
     * Returns them as stored.
     */
    async appendBatch(
      records: PreparedRecord[],
      o: { outbox?: readonly OutboxTarget[]; pending?: readonly (number | undefined)[] } = {},
    ): Promise<AuditRow[]> {
      if (!records.length) return []
      return db.$transaction(
        async (tx) => {
          await lockChain(tx, postgres)
          records = await claimPending(tx, records, o.pending)
          if (!records.length) return []
          // An empty table after retention continues from the prune checkpoint, not from genesis.
          const tail =
            (await lastRow(tx)) ??
            (await tx.auditCheckpoint.findFirst({
              orderBy: [{ seq: 'desc' }, { id: 'desc' }],
              select: { seq: true, hash: true },
            }))
          let seq = tail?.seq ?? 0
          let prevHash = tail ? (tail.hash ?? GENESIS_HASH) : GENESIS_HASH
          const rows: AuditRow[] = records.map((r) => {
            seq += 1
            const hash = recordHash({ ...r, seq, prevHash })
            const row = { ...r, seq, prevHash, hash }
            prevHash = hash
            return row
          })
          await tx.auditEvent.createMany({ data: rows })
          const targets = o.outbox ?? []
          if (targets.length)
            await tx.auditOutbox.createMany({
              data: rows.flatMap((r) => targets.map((t) => ({ target: t.target, seq: r.seq, payload: t.payload(r) }))),
            })
          return rows
        },
        { maxWait: 15_000, timeout: 30_000 },
      )
    },

    pending: {
      /** Stores records in the caller's transaction (db/audited.ts); returns their ids, in order. */
      async insert(tx: Tx, records: readonly PreparedRecord[]): Promise<number[]> {
        const ids: number[] = []
        for (const r of records) ids.push((await tx.auditPending.create({ data: r, select: { id: true } })).id)
        return ids
      },
      /** The oldest records still waiting to be chained, except the ones listed (already queued here). */
      async oldest(limit: number, except: readonly number[] = []): Promise<(PreparedRecord & { id: number })[]> {
        return db.auditPending.findMany({
          where: except.length ? { id: { notIn: [...except] } } : {},
          orderBy: { id: 'asc' },
          take: limit,
        })
      },
      count: () => db.auditPending.count(),
    },

    tail: () => lastRow(db),
    head: () => db.auditEvent.findFirst({ orderBy: { seq: 'asc' }, select: { seq: true, time: true } }),
    async bounds() {
      const [first, last] = await Promise.all([
        db.auditEvent.findFirst({ orderBy: { seq: 'asc' }, select: { seq: true } }),
        db.auditEvent.findFirst({ orderBy: { seq: 'desc' }, select: { seq: true } }),
      ])
      return { first: first?.seq, last: last?.seq }
    },
    /** Rows with seq >= from, in seq order (the verifier walks the chain with it). */
    range: (from: number, limit: number): Promise<AuditRow[]> =>
      db.auditEvent.findMany({ where: { seq: { gte: from } }, orderBy: { seq: 'asc' }, take: limit }),
    count: (f: EventFilter = {}) => db.auditEvent.count({ where: where(f) }),

    /** Filtered page, newest first (or oldest first), after the cursor's seq. */
    page(f: EventFilter, o: { limit: number; after?: number; order: 'asc' | 'desc' }): Promise<AuditRow[]> {
      const cursor = o.after === undefined ? {} : { seq: o.order === 'desc' ? { lt: o.after } : { gt: o.after } }
      return db.auditEvent.findMany({ where: { AND: [where(f), cursor] }, orderBy: { seq: o.order }, take: o.limit })
    },
    async list(filter: { action?: string; actor?: string; limit?: number } = {}) {
      const rows = await db.auditEvent.findMany({
        where: where(filter),
        orderBy: { seq: 'desc' },
        take: filter.limit ?? 100,
      })
      return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }))
    },
    /** Where a user signed in from before `before` (for the new IP / new device detector). */
    loginSources: (actor: string, since: Date, before: Date, limit = 500) =>
      db.auditEvent.findMany({
        where: { actor, action: 'login', outcome: 'success', time: { gte: since, lt: before } },
        select: { ip: true, userAgent: true },
        orderBy: { seq: 'desc' },
        take: limit,
      }),

    checkpoints: checkpointQueries(db),

    /**
     * Retention: deletes records up to `upTo` (inclusive) together with the signed anchor that
     * lets the rest verify, in one transaction under the chain lock.
     */
    async pruneUpTo(
      upTo: number,
      anchor: (last: { seq: number; hash: string }) => Promise<Omit<CheckpointRow, 'id' | 'createdAt'>>,
    ) {
      return db.$transaction(
        async (tx) => {
          await lockChain(tx, postgres)
          const last = await tx.auditEvent.findUnique({ where: { seq: upTo }, select: { seq: true, hash: true } })
          if (!last) return 0
          await tx.auditCheckpoint.create({ data: await anchor({ seq: last.seq, hash: last.hash ?? '' }) })
          return (await tx.auditEvent.deleteMany({ where: { seq: { lte: upTo } } })).count
        },
        { maxWait: 15_000, timeout: 120_000 },
      )
    },
    /** The newest record older than the cutoff. */
    lastBefore: (cutoff: Date) =>
      db.auditEvent.findFirst({ where: { time: { lt: cutoff } }, orderBy: { seq: 'desc' }, select: { seq: true } }),

    outbox: outboxQueries(db),
  }
}
export type AuditQueries = ReturnType<typeof auditQueries>

/** Signed anchors of the chain (retention and verification). */
function checkpointQueries(db: Db) {
  return {
    add: (c: Omit<CheckpointRow, 'id' | 'createdAt'> & { createdAt?: Date }) => db.auditCheckpoint.create({ data: c }),
    latest: (): Promise<CheckpointRow | null> =>
      db.auditCheckpoint.findFirst({ orderBy: [{ seq: 'desc' }, { id: 'desc' }] }),
    newest: (): Promise<CheckpointRow | null> => db.auditCheckpoint.findFirst({ orderBy: { id: 'desc' } }),
    all: (): Promise<CheckpointRow[]> => db.auditCheckpoint.findMany({ orderBy: [{ seq: 'asc' }, { id: 'asc' }] }),
  }
}

/** The delivery outbox of the streaming targets (webhook, syslog): leased, delivered, retried. */
function outboxQueries(db: Db) {
  return {
    /** Leases up to `limit` due rows of one target to this worker until `leaseUntil` (at-least-once delivery). */
    async claim(target: string, now: Date, leaseUntil: Date, limit: number) {
      const due = await db.auditOutbox.findMany({
        where: { target, nextAttemptAt: { lte: now } },
        orderBy: { id: 'asc' },
        take: limit,
        select: { id: true },
      })
      if (!due.length) return []
      await db.auditOutbox.updateMany({
        where: { id: { in: due.map((d) => d.id) }, nextAttemptAt: { lte: now } },
        data: { nextAttemptAt: leaseUntil },
      })
      return db.auditOutbox.findMany({
        where: { id: { in: due.map((d) => d.id) }, nextAttemptAt: leaseUntil },
        orderBy: { id: 'asc' },
      })
    },
    done: (ids: number[]) => db.auditOutbox.deleteMany({ where: { id: { in: ids } } }),
    failed: (ids: number[], attempts: number, next: Date, error: string) =>
      db.auditOutbox.updateMany({
        where: { id: { in: ids } },
        data: { attempts, nextAttemptAt: next, lastError: error.slice(0, 500) },
      }),
    /** Rows not yet delivered, of one target or of all. */
    pending: (target?: string) => db.auditOutbox.count({ where: target ? { target } : {} }),
    /** Undelivered rows per target (to notice rows of a target that is no longer configured). */
    async pendingByTarget(): Promise<Record<string, number>> {
      const groups = await db.auditOutbox.groupBy({ by: ['target'], _count: { _all: true } })
      return Object.fromEntries(groups.map((g) => [g.target, g._count._all]))
    },
  }
}

import type { Db, Prisma } from './client.ts'

/** The transaction a queries module runs a change in. */
export type Tx = Prisma.TransactionClient

/**
 * The audit side of one state change (made by the audit log: `audit.with(result => record)`).
 * `write` stores the change's record(s) inside the change's own transaction (a plain insert into
 * the AuditPending outbox, no chain work, so the change never waits for the chain lock) and
 * returns what to do once that transaction committed (hand the records to the chain appender).
 */
export interface Audited<T> {
  write(tx: Tx, result: T): Promise<() => Promise<void>>
}

// Interactive transactions: the defaults (2 s to begin, 5 s to run) are short for a loaded SQLite
// file, where transactions take turns; every statement stays bounded by the database timeouts.
const TX_OPTIONS = { maxWait: 5_000, timeout: 15_000 }

/**
 * "A state change and its audit record commit together" (DESIGN.md), for queries modules: runs
 * `change` in one transaction together with the audit record(s) `audit` derives from its
 * result. Either both are stored or neither is; after a crash the record is chained at the next
 * start (audit/append.ts). Without `audit` it is a plain transaction.
 */
export async function audited<T>(db: Db, audit: Audited<T> | undefined, change: (tx: Tx) => Promise<T>): Promise<T> {
  let after: (() => Promise<void>) | undefined
  const result = await db.$transaction(async (tx) => {
    const r = await change(tx)
    if (audit) after = await audit.write(tx, r)
    return r
  }, TX_OPTIONS)
  await after?.()
  return result
}

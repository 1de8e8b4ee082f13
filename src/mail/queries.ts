import type { Db } from '../db/client.ts'

export interface MailRow {
  id: string
  kind: string
  message: string
  attempts: number
  nextAttemptAt: Date
}

/** The mail outbox table (MailOutbox): sealed messages waiting for the SMTP server. */
export function mailQueries(db: Db) {
  return {
    add: (row: { id: string; kind: string; message: string }) =>
      db.mailOutbox.create({ data: row }).then(() => undefined),
    /**
     * Claims up to `limit` due rows by moving their next attempt to `leaseUntil`: another
     * instance polling at the same moment claims other rows (the second update finds them no
     * longer due), and a process that dies mid-send leaves them due again after the lease.
     */
    async claim(now: Date, leaseUntil: Date, limit: number): Promise<MailRow[]> {
      const due = await db.mailOutbox.findMany({
        where: { nextAttemptAt: { lte: now } },
        orderBy: { createdAt: 'asc' },
        take: limit,
        select: { id: true, nextAttemptAt: true },
      })
      const mine: string[] = []
      for (const d of due) {
        const r = await db.mailOutbox.updateMany({
          where: { id: d.id, nextAttemptAt: d.nextAttemptAt },
          data: { nextAttemptAt: leaseUntil },
        })
        if (r.count === 1) mine.push(d.id)
      }
      if (!mine.length) return []
      return db.mailOutbox.findMany({ where: { id: { in: mine } }, orderBy: { createdAt: 'asc' } })
    },
    done: (id: string) => db.mailOutbox.deleteMany({ where: { id } }).then(() => undefined),
    retry: (id: string, attempts: number, next: Date, error: string) =>
      db.mailOutbox
        .updateMany({ where: { id }, data: { attempts, nextAttemptAt: next, lastError: error.slice(0, 500) } })
        .then(() => undefined),
    pending: () => db.mailOutbox.count(),
  }
}
export type MailQueries = ReturnType<typeof mailQueries>

import type { Db } from '../db/client.ts'
import { audited, type Audited, type Tx } from '../db/audited.ts'

export interface StreamRow {
  id: string
  clientId: string
  config: string
  status: string
  reason: string | null
  subjects: string
  createdAt: Date
  updatedAt: Date
}
export interface SetRow {
  streamId: string
  jti: string
  set: string
}

/** Storage of Shared Signals streams and the SETs waiting for their receivers (service.ts). */
export function ssfQueries(db: Db) {
  return {
    streamOf: (clientId: string): Promise<StreamRow | null> => db.ssfStream.findUnique({ where: { clientId } }),
    byId: (id: string): Promise<StreamRow | null> => db.ssfStream.findUnique({ where: { id } }),
    all: (): Promise<StreamRow[]> => db.ssfStream.findMany({ orderBy: { createdAt: 'asc' } }),
    create: (row: { id: string; clientId: string; config: string }, audit?: Audited<StreamRow>) =>
      audited(db, audit, (tx) => tx.ssfStream.create({ data: row })),
    update: (id: string, data: Partial<Pick<StreamRow, 'config' | 'subjects'>>, audit?: Audited<StreamRow>) =>
      audited(db, audit, (tx) => tx.ssfStream.update({ where: { id }, data })),
    /** The status, its audit record and (for the transmitter's own changes) the stream-updated SET commit together. */
    setStatus: (id: string, status: string, reason: string | null, audit: Audited<StreamRow>) =>
      audited(db, audit, (tx) => tx.ssfStream.update({ where: { id }, data: { status, reason } })),
    remove: (id: string, audit?: Audited<unknown>) =>
      audited(db, audit, async (tx) => {
        await tx.ssfEvent.deleteMany({ where: { streamId: id } })
        await tx.ssfStream.delete({ where: { id } })
      }),
    enqueue: (row: SetRow) => db.ssfEvent.create({ data: row }),
    /** Inside an audited change's transaction (fanout.ts): streams, account and factors as of that change. */
    inTx: (tx: Tx) => ({
      enabledStreams: (): Promise<StreamRow[]> => tx.ssfStream.findMany({ where: { status: 'enabled' } }),
      stream: (id: string): Promise<StreamRow | null> => tx.ssfStream.findUnique({ where: { id } }),
      user: (id: string) => tx.user.findUnique({ where: { id }, select: { id: true, email: true } }),
      factorCount: (userId: string) => tx.mfaFactor.count({ where: { userId } }),
      enqueue: (rows: SetRow[]) => tx.ssfEvent.createMany({ data: rows }),
    }),
    /** The oldest waiting SETs of a stream (poll, RFC 8936 §2.4). */
    waiting: (streamId: string, take: number) =>
      db.ssfEvent.findMany({ where: { streamId }, orderBy: { id: 'asc' }, take }),
    count: (streamId: string) => db.ssfEvent.count({ where: { streamId } }),
    ack: (streamId: string, jtis: string[]) => db.ssfEvent.deleteMany({ where: { streamId, jti: { in: jtis } } }),
    /** Stores the signed form of a queued SET once (false if another instance signed it first). */
    signed: async (id: number, unsigned: string, jws: string) =>
      (await db.ssfEvent.updateMany({ where: { id, set: unsigned }, data: { set: jws } })).count === 1,
    setOf: async (id: number) => (await db.ssfEvent.findUnique({ where: { id }, select: { set: true } }))?.set,
    /** SETs whose next push attempt is due, oldest first. */
    due: (streamIds: string[], now: Date, take = 50) =>
      db.ssfEvent.findMany({
        where: { streamId: { in: streamIds }, nextAttemptAt: { lte: now } },
        orderBy: { id: 'asc' },
        take,
      }),
    /** Leases a due SET to this instance (false if another took it first); the lease ends by itself if we die. */
    claim: async (id: number, due: Date, until: Date) =>
      (await db.ssfEvent.updateMany({ where: { id, nextAttemptAt: due }, data: { nextAttemptAt: until } })).count === 1,
    delivered: (id: number) => db.ssfEvent.deleteMany({ where: { id } }),
    failed: (id: number, attempts: number, next: Date, error: string) =>
      db.ssfEvent.update({ where: { id }, data: { attempts, nextAttemptAt: next, lastError: error.slice(0, 500) } }),
  }
}
export type SsfQueries = ReturnType<typeof ssfQueries>

import type { Db } from '../db/client.ts'

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

/** Storage of Shared Signals streams and the SETs waiting for their receivers (service.ts). */
export function ssfQueries(db: Db) {
  return {
    streamOf: (clientId: string): Promise<StreamRow | null> => db.ssfStream.findUnique({ where: { clientId } }),
    byId: (id: string): Promise<StreamRow | null> => db.ssfStream.findUnique({ where: { id } }),
    all: (): Promise<StreamRow[]> => db.ssfStream.findMany(),
    create: (row: { id: string; clientId: string; config: string }) => db.ssfStream.create({ data: row }),
    update: (id: string, data: Partial<Pick<StreamRow, 'config' | 'status' | 'reason' | 'subjects'>>) =>
      db.ssfStream.update({ where: { id }, data }),
    async remove(id: string) {
      await db.$transaction([
        db.ssfEvent.deleteMany({ where: { streamId: id } }),
        db.ssfStream.delete({ where: { id } }),
      ])
    },
    enqueue: (streamId: string, jti: string, set: string) => db.ssfEvent.create({ data: { streamId, jti, set } }),
    /** The oldest waiting SETs of a stream (poll, RFC 8936 §2.4). */
    waiting: (streamId: string, take: number) =>
      db.ssfEvent.findMany({ where: { streamId }, orderBy: { id: 'asc' }, take }),
    count: (streamId: string) => db.ssfEvent.count({ where: { streamId } }),
    ack: (streamId: string, jtis: string[]) => db.ssfEvent.deleteMany({ where: { streamId, jti: { in: jtis } } }),
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

import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'

export interface ClientRow {
  clientId: string
  metadata: Record<string, unknown>
  secretHash: string | null
  /** set while the client is contained (admin/containment.ts): the provider does not find it */
  disabledAt?: Date | null
  createdAt: Date
  updatedAt: Date
}

const toRow = (r: {
  clientId: string
  metadata: string
  secretHash: string | null
  disabledAt?: Date | null
  createdAt: Date
  updatedAt: Date
}): ClientRow => ({ ...r, metadata: JSON.parse(r.metadata) as Record<string, unknown> })

export function clientQueries(db: Db) {
  return {
    async find(clientId: string) {
      const r = await db.client.findUnique({ where: { clientId } })
      return r ? toRow(r) : null
    },
    async list() {
      return (await db.client.findMany({ orderBy: { clientId: 'asc' } })).map(toRow)
    },
    /** With `audit`, the client and its audit record commit together (db/audited.ts). */
    async upsert(
      clientId: string,
      metadata: Record<string, unknown>,
      secretHash: string | null | undefined,
      audit?: Audited<void>,
    ) {
      const data = { metadata: JSON.stringify(metadata), ...(secretHash !== undefined ? { secretHash } : {}) }
      await audited(db, audit, async (tx) => {
        await tx.client.upsert({
          where: { clientId },
          create: { clientId, ...data, secretHash: secretHash ?? null },
          update: data,
        })
      })
    },
    /** Disables (a date) or enables (null) a client; false when there is no such client. */
    /** With `audit`, the change and its record commit together (db/audited.ts). */
    setDisabled(clientId: string, at: Date | null, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) => (await tx.client.updateMany({ where: { clientId }, data: { disabledAt: at } })).count === 1,
      )
    },
    async remove(clientId: string, audit?: Audited<void>) {
      await audited(db, audit, async (tx) => {
        await tx.client.deleteMany({ where: { clientId } })
      })
    },
  }
}
export type ClientQueries = ReturnType<typeof clientQueries>

import type { Db } from '../../db/client.ts'

export interface ClientRow {
  clientId: string
  metadata: Record<string, unknown>
  secretHash: string | null
  createdAt: Date
  updatedAt: Date
}

const toRow = (r: { clientId: string; metadata: string; secretHash: string | null; createdAt: Date; updatedAt: Date }): ClientRow =>
  ({ ...r, metadata: JSON.parse(r.metadata) as Record<string, unknown> })

export function clientQueries(db: Db) {
  return {
    async find(clientId: string) {
      const r = await db.client.findUnique({ where: { clientId } })
      return r ? toRow(r) : null
    },
    async list() {
      return (await db.client.findMany({ orderBy: { clientId: 'asc' } })).map(toRow)
    },
    async upsert(clientId: string, metadata: Record<string, unknown>, secretHash: string | null | undefined) {
      const data = { metadata: JSON.stringify(metadata), ...(secretHash !== undefined ? { secretHash } : {}) }
      await db.client.upsert({ where: { clientId }, create: { clientId, ...data, secretHash: secretHash ?? null }, update: data })
    },
    async remove(clientId: string) {
      await db.client.deleteMany({ where: { clientId } })
    },
  }
}
export type ClientQueries = ReturnType<typeof clientQueries>

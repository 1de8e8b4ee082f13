import type { Db } from '../db/client.ts'
import { audited, type Audited } from '../db/audited.ts'

export interface VersionRow {
  store: string
  version: number
  model: string
  policy: string
  options: string
  author: string
  reason: string | null
  lineCount: number
  createdAt: Date
}

/** The only place policy stores touch the database. */
export function policyQueries(db: Db) {
  return {
    listStores() {
      return db.policyStore.findMany({ orderBy: { name: 'asc' } })
    },
    findStore(name: string) {
      return db.policyStore.findUnique({ where: { name } })
    },
    /** Current version numbers of every store: what instances poll to notice changes. */
    async versions(): Promise<Map<string, number>> {
      const rows = await db.policyStore.findMany({ select: { name: true, version: true } })
      return new Map(rows.map((r) => [r.name, r.version]))
    },
    findVersion(store: string, version: number): Promise<VersionRow | null> {
      return db.policyVersion.findUnique({ where: { store_version: { store, version } } })
    },
    listVersions(store: string): Promise<Omit<VersionRow, 'model' | 'policy' | 'options'>[]> {
      return db.policyVersion.findMany({
        where: { store },
        orderBy: { version: 'desc' },
        select: { store: true, version: true, author: true, reason: true, lineCount: true, createdAt: true },
      })
    },
    /**
     * Commits a new immutable version atomically: the version row and the store's pointer in
     * one transaction, conditional on the version the change was computed from, so two writers
     * cannot both commit "version n+1" (the loser gets `null` and retries or reports 409).
     */
    async commit(
      v: Omit<VersionRow, 'version' | 'createdAt'>,
      basedOn: number | null,
      description?: string | null,
      audit?: Audited<number | null>,
    ): Promise<number | null> {
      // the version and its audit record(s) commit together (db/audited.ts)
      return audited(db, audit, async (tx): Promise<number | null> => {
        let next: number
        if (basedOn === null) {
          const exists = await tx.policyStore.findUnique({ where: { name: v.store } })
          if (exists) return null
          await tx.policyStore.create({ data: { name: v.store, description: description ?? null, version: 1 } })
          next = 1
        } else {
          const moved = await tx.policyStore.updateMany({
            where: { name: v.store, version: basedOn },
            data: { version: basedOn + 1, ...(description !== undefined ? { description } : {}) },
          })
          if (moved.count !== 1) return null
          next = basedOn + 1
        }
        await tx.policyVersion.create({ data: { ...v, version: next } })
        return next
      })
    },
    async deleteStore(name: string) {
      await db.$transaction([
        db.policyVersion.deleteMany({ where: { store: name } }),
        db.policyStore.deleteMany({ where: { name } }),
      ])
    },
  }
}
export type PolicyQueries = ReturnType<typeof policyQueries>

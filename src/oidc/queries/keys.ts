import type { Db } from '../../db/client.ts'

export type KeyStatus = 'active' | 'retiring' | 'retired'
export interface KeyRow {
  kid: string
  alg: string
  publicJwk: string
  privateJwk: string
  status: string
  createdAt: Date
  activatedAt: Date | null
  retireAfter: Date | null
  retiredAt: Date | null
}

export function keyQueries(db: Db) {
  return {
    /** Published keys: active first (the signer is the first key of each alg), newest first. */
    listPublished(): Promise<KeyRow[]> {
      return db.signingKey.findMany({ where: { status: { in: ['active', 'retiring'] } }, orderBy: [{ status: 'asc' }, { createdAt: 'desc' }] })
    },
    listAll(): Promise<KeyRow[]> {
      return db.signingKey.findMany({ orderBy: { createdAt: 'desc' } })
    },
    /**
     * One transaction: the new keys become active, the previously active ones stay published as
     * `retiring` until retireAfter (the longest lifetime of anything they signed).
     */
    async rotate(newKeys: Omit<KeyRow, 'createdAt' | 'retiredAt' | 'retireAfter'>[], retireAfter: Date) {
      await db.$transaction([
        db.signingKey.updateMany({ where: { status: 'active' }, data: { status: 'retiring', retireAfter } }),
        ...newKeys.map((k) => db.signingKey.create({ data: k })),
      ])
    },
    /** Retires one key that is no longer the signer, before its time (an administrator's call). */
    async retire(kid: string, now: Date) {
      return (await db.signingKey.updateMany({ where: { kid, status: 'retiring' }, data: { status: 'retired', retiredAt: now } })).count === 1
    },
    async retireDue(now: Date) {
      return (await db.signingKey.updateMany({ where: { status: 'retiring', retireAfter: { lte: now } }, data: { status: 'retired', retiredAt: now } })).count
    },
  }
}
export type KeyQueries = ReturnType<typeof keyQueries>

import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'

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
      return db.signingKey.findMany({
        where: { status: { in: ['active', 'retiring'] } },
        orderBy: [{ status: 'asc' }, { createdAt: 'desc' }],
      })
    },
    listAll(): Promise<KeyRow[]> {
      return db.signingKey.findMany({ orderBy: { createdAt: 'desc' } })
    },
    /**
     * One transaction: the new keys become active, the previously active ones stay published as
     * `retiring` until retireAfter (the longest lifetime of anything they signed).
     */
    /** Also retires the keys due by `now`; returns how many. With `audit`, its record commits with the change. */
    rotate(
      newKeys: Omit<KeyRow, 'createdAt' | 'retiredAt' | 'retireAfter'>[],
      retireAfter: Date,
      now: Date,
      audit?: Audited<number>,
    ) {
      return audited(db, audit, async (tx) => {
        await tx.signingKey.updateMany({ where: { status: 'active' }, data: { status: 'retiring', retireAfter } })
        for (const k of newKeys) await tx.signingKey.create({ data: k })
        return (
          await tx.signingKey.updateMany({
            where: { status: 'retiring', retireAfter: { lte: now } },
            data: { status: 'retired', retiredAt: now },
          })
        ).count
      })
    },
    /** Adds keys to the active generation (one that lacks a kind of key, e.g. the encryption key). */
    async add(newKeys: Omit<KeyRow, 'createdAt' | 'retiredAt' | 'retireAfter'>[]) {
      await db.$transaction(async (tx) => {
        for (const k of newKeys) await tx.signingKey.create({ data: k })
      })
    },
    /**
     * Retires one key that is no longer the signer, before its time (an administrator's call), with its audit record.
     */
    retire(kid: string, now: Date, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) =>
          (
            await tx.signingKey.updateMany({
              where: { kid, status: 'retiring' },
              data: { status: 'retired', retiredAt: now },
            })
          ).count === 1,
      )
    },
    async retireDue(now: Date) {
      return (
        await db.signingKey.updateMany({
          where: { status: 'retiring', retireAfter: { lte: now } },
          data: { status: 'retired', retiredAt: now },
        })
      ).count
    },
  }
}
export type KeyQueries = ReturnType<typeof keyQueries>

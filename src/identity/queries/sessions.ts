import type { Db } from '../../db/client.ts'
import { audited, type Audited, type Tx } from '../../db/audited.ts'

export interface SessionRecord {
  id: string
  userId: string
  oidcSessionUid: string | null
  amr: string[]
  acr: string
  ip: string | null
  userAgent: string | null
  challenge: string | null
  createdAt: Date
  lastSeenAt: Date
  expiresAt: Date
  revokedAt: Date | null
}

type Row = Awaited<ReturnType<Db['userSession']['findUnique']>> & {}
const toRecord = (r: Row): SessionRecord => ({ ...r, amr: JSON.parse(r.amr) as string[] })

/**
 * Revokes live sessions of a user inside `tx` (the transaction of the change that ends them, so
 * an audit record's `sessions_ended` counts exactly the rows this transaction revoked); `keep`:
 * the one session that stays (the browser changing its own password).
 */
export async function revokeSessionsIn(tx: Tx, userId: string, ids: string[] | 'all', now: Date, keep?: string) {
  const where = {
    userId,
    revokedAt: null,
    ...(ids === 'all' ? {} : { id: { in: ids } }),
    ...(keep ? { NOT: { id: keep } } : {}),
  }
  const rows = (await tx.userSession.findMany({ where })).map(toRecord)
  if (rows.length)
    await tx.userSession.updateMany({
      where: { id: { in: rows.map((r) => r.id) }, revokedAt: null },
      data: { revokedAt: now },
    })
  return rows
}

/** Sign-in sessions (the `portcullis_sid` cookie); ids are SHA-256 hashes of the cookie token. */
export function sessionQueries(db: Db) {
  return {
    async create(s: {
      id: string
      userId: string
      amr: string[]
      acr: string
      ip?: string | null
      userAgent?: string | null
      expiresAt: Date
    }) {
      return toRecord(await db.userSession.create({ data: { ...s, amr: JSON.stringify(s.amr) } }))
    },
    async find(id: string) {
      const r = await db.userSession.findUnique({ where: { id } })
      return r ? toRecord(r) : null
    },
    async listActive(userId: string, now: Date) {
      return (
        await db.userSession.findMany({
          where: { userId, revokedAt: null, expiresAt: { gt: now } },
          orderBy: { lastSeenAt: 'desc' },
        })
      ).map(toRecord)
    },
    async touch(
      id: string,
      data: { lastSeenAt?: Date; oidcSessionUid?: string; ip?: string | null; challenge?: string | null },
    ) {
      await db.userSession.updateMany({ where: { id, revokedAt: null }, data })
    },
    /**
     * Revokes sessions (of this user); returns the revoked rows so callers can end linked state.
     * With `audit`, the revocation and its audit record commit together (db/audited.ts).
     */
    revoke(userId: string, ids: string[] | 'all', now: Date, audit?: Audited<SessionRecord[]>) {
      if (!audit) return revokeSessionsIn(db, userId, ids, now) // sign-in and logout paths: no transaction
      return audited(db, audit, (tx) => revokeSessionsIn(tx, userId, ids, now))
    },
    async findByOidcSession(uid: string) {
      return (await db.userSession.findMany({ where: { oidcSessionUid: uid, revokedAt: null } })).map(toRecord)
    },
  }
}
export type SessionQueries = ReturnType<typeof sessionQueries>

import type { Db } from '../../db/client.ts'

export interface RevokedTokenRow {
  jti: string
  clientId: string
  expiresAt: Date
  revokedAt: Date
}

/** JWT access tokens revoked before they expire (RFC 7009), by jti. */
export function revokedTokenQueries(db: Db) {
  return {
    /** Idempotent: revoking a revoked token again changes nothing. */
    async add(row: { jti: string; clientId: string; expiresAt: Date }) {
      await db.revokedToken.upsert({ where: { jti: row.jti }, create: row, update: {} })
    },
    async isRevoked(jti: string, now: Date) {
      return (await db.revokedToken.count({ where: { jti, expiresAt: { gt: now } } })) > 0
    },
    /** Rows revoked at or after `since` that have not expired yet. */
    since(since: Date, now: Date): Promise<RevokedTokenRow[]> {
      return db.revokedToken.findMany({ where: { revokedAt: { gte: since }, expiresAt: { gt: now } }, orderBy: { revokedAt: 'asc' } })
    },
    /** A revoked token that has expired is refused anyway: its row is dead weight. */
    async deleteExpired(before: Date) {
      await db.revokedToken.deleteMany({ where: { expiresAt: { lte: before } } })
    },
  }
}
export type RevokedTokenQueries = ReturnType<typeof revokedTokenQueries>

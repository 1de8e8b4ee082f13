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
    /** Idempotent: revoking a revoked token again (even concurrently) changes nothing. */
    add: (row: { jti: string; clientId: string; expiresAt: Date }) => addRevoked(db, row),
    async isRevoked(jti: string, now: Date) {
      return (await db.revokedToken.count({ where: { jti, expiresAt: { gt: now } } })) > 0
    },
    /** Rows revoked at or after `since` that have not expired yet. */
    since(since: Date, now: Date): Promise<RevokedTokenRow[]> {
      return db.revokedToken.findMany({
        where: { revokedAt: { gte: since }, expiresAt: { gt: now } },
        orderBy: { revokedAt: 'asc' },
      })
    },
    /** A revoked token that has expired is refused anyway: its row is dead weight. */
    async deleteExpired(before: Date) {
      await db.revokedToken.deleteMany({ where: { expiresAt: { lte: before } } })
      await db.grantAccessToken.deleteMany({ where: { expiresAt: { lte: before } } })
    },
    /** Remembers a JWT access token issued under a grant, so revoking the grant can revoke it. */
    async addGrantToken(row: { jti: string; grantId: string; clientId: string; expiresAt: Date }) {
      await db.grantAccessToken.upsert({ where: { jti: row.jti }, create: row, update: {} })
    },
    /**
     * Moves a grant's unexpired JWT access tokens to the revoked list. oidc-provider revokes a
     * grant through several models at once, so this may run concurrently for one grant: every
     * step is idempotent (no transaction: a failed insert would abort it on PostgreSQL). The
     * revoked rows are written before the grant's rows are deleted, so a crash in between
     * loses nothing.
     */
    async revokeGrant(grantId: string, now: Date): Promise<RevokedTokenRow[]> {
      const rows = await db.grantAccessToken.findMany({ where: { grantId, expiresAt: { gt: now } } })
      for (const r of rows) await addRevoked(db, { jti: r.jti, clientId: r.clientId, expiresAt: r.expiresAt })
      await db.grantAccessToken.deleteMany({ where: { grantId } })
      return rows.map((r) => ({ jti: r.jti, clientId: r.clientId, expiresAt: r.expiresAt, revokedAt: now }))
    },
  }
}
export type RevokedTokenQueries = ReturnType<typeof revokedTokenQueries>

async function addRevoked(db: Db, row: { jti: string; clientId: string; expiresAt: Date }) {
  try {
    await db.revokedToken.upsert({ where: { jti: row.jti }, create: row, update: {} })
  } catch (err) {
    // P2002: another request inserted the same jti between the upsert's read and its write.
    if ((err as { code?: string }).code !== 'P2002') throw err
  }
}

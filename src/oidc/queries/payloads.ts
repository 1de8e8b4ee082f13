import type { Db } from '../../db/client.ts'

/** Rows behind oidc-provider's models (sessions, codes, tokens, grants...). */
export interface PayloadRow {
  model: string
  id: string
  payload: string
  grantId: string | null
  userCode: string | null
  uid: string | null
  expiresAt: Date | null
  consumedAt: Date | null
}

export function payloadQueries(db: Db) {
  return {
    async upsert(row: PayloadRow) {
      const { model, id, ...data } = row
      await db.oidcPayload.upsert({ where: { model_id: { model, id } }, create: row, update: data })
    },
    find(model: string, id: string) {
      return db.oidcPayload.findUnique({ where: { model_id: { model, id } } })
    },
    findByUid(model: string, uid: string) {
      return db.oidcPayload.findFirst({ where: { model, uid } })
    },
    findByUserCode(model: string, userCode: string) {
      return db.oidcPayload.findFirst({ where: { model, userCode } })
    },
    async consume(model: string, id: string, at: Date) {
      await db.oidcPayload.updateMany({ where: { model, id }, data: { consumedAt: at } })
    },
    async destroy(model: string, id: string) {
      await db.oidcPayload.deleteMany({ where: { model, id } })
    },
    /** Deletes the instances of `models` issued under a grant (see GRANT_BOUND_MODELS). */
    async revokeByGrantId(grantId: string, models: string[]) {
      await db.oidcPayload.deleteMany({ where: { grantId, model: { in: models } } })
    },
    /** Expired rows are dead weight: find() already ignores them; this reclaims the space. */
    async deleteExpired(before: Date) {
      return (await db.oidcPayload.deleteMany({ where: { expiresAt: { lt: before } } })).count
    },
  }
}
export type PayloadQueries = ReturnType<typeof payloadQueries>

import type { Db } from '../../db/client.ts'

export type EmailTokenPurpose = 'password_reset' | 'email_verify' | 'email_change' | 'invitation'

export interface EmailTokenRecord {
  id: string
  userId: string
  purpose: string
  email: string
  expiresAt: Date
  usedAt: Date | null
}

/** Single-use links sent by mail (EmailToken); `id` is the SHA-256 of the token, never the token. */
export function emailTokenQueries(db: Db) {
  return {
    create: (t: { id: string; userId: string; purpose: EmailTokenPurpose; email: string; expiresAt: Date }) =>
      db.emailToken.create({ data: t }).then(() => undefined),
    find: (id: string, purpose: EmailTokenPurpose): Promise<EmailTokenRecord | null> =>
      db.emailToken.findFirst({ where: { id, purpose } }),
    /**
     * Marks the token used if it is still unused and unexpired, in one conditional update:
     * of two requests racing with the same link, exactly one gets `true`.
     */
    async consume(id: string, purpose: EmailTokenPurpose, now: Date): Promise<boolean> {
      const r = await db.emailToken.updateMany({
        where: { id, purpose, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      })
      return r.count === 1
    },
    /** Retires every other outstanding link of this purpose for the user. */
    retireAll: (userId: string, purpose: EmailTokenPurpose, now: Date) =>
      db.emailToken
        .updateMany({ where: { userId, purpose, usedAt: null }, data: { usedAt: now } })
        .then((r) => r.count),
    /** Drops links that expired before `before` (housekeeping; used ones expire too). */
    prune: (before: Date) => db.emailToken.deleteMany({ where: { expiresAt: { lt: before } } }).then((r) => r.count),
  }
}
export type EmailTokenQueries = ReturnType<typeof emailTokenQueries>

import type { Db } from '../db/client.ts'
import { audited, type Audited, type Tx } from '../db/audited.ts'
import { revokeSessionsIn, type SessionRecord } from './queries/sessions.ts'

export interface UserRecord {
  id: string
  email: string
  name: string | null
  passwordHash: string | null
  roles: string[]
  attributes: Record<string, unknown>
  emailVerified: boolean
  disabled: boolean
  mustChangePassword: boolean
  /** self-registered: no sign-in completes before the email address is verified */
  mustVerifyEmail: boolean
  createdAt: Date
  updatedAt: Date
  lastLoginAt: Date | null
}

type Row = Awaited<ReturnType<Db['user']['findUnique']>> & {}

function toRecord(row: Row): UserRecord {
  return {
    ...row,
    roles: JSON.parse(row.roles) as string[],
    attributes: JSON.parse(row.attributes) as Record<string, unknown>,
  }
}

export interface UserWrite {
  email: string
  name?: string | null
  passwordHash?: string | null
  roles?: string[]
  attributes?: Record<string, unknown>
  emailVerified?: boolean
  mustChangePassword?: boolean
  mustVerifyEmail?: boolean
  disabled?: boolean
}

function toData(u: Partial<UserWrite>) {
  const { roles, attributes, ...rest } = u
  return {
    ...rest,
    ...(roles !== undefined ? { roles: JSON.stringify(roles) } : {}),
    ...(attributes !== undefined ? { attributes: JSON.stringify(attributes) } : {}),
  }
}

export function userQueries(db: Db) {
  return {
    async findById(id: string) {
      const row = await db.user.findUnique({ where: { id } })
      return row ? toRecord(row) : null
    },
    async findByEmail(email: string) {
      const row = await db.user.findUnique({ where: { email } })
      return row ? toRecord(row) : null
    },
    async list() {
      return (await db.user.findMany({ orderBy: { email: 'asc' } })).map(toRecord)
    },
    async count() {
      return db.user.count()
    },
    /**
     * With `audit`, the user and its audit record commit together (db/audited.ts); `also` writes
     * rows that belong to the creation (a federated link) in the same transaction.
     */
    create(
      id: string,
      u: UserWrite,
      audit?: Audited<UserRecord>,
      also?: (tx: Tx, user: UserRecord) => Promise<unknown>,
    ) {
      return audited(db, audit, async (tx) => {
        const user = toRecord(await tx.user.create({ data: { id, ...toData(u), email: u.email } }))
        await also?.(tx, user)
        return user
      })
    },
    async update(id: string, u: Partial<UserWrite> & { lastLoginAt?: Date }, audit?: Audited<UserRecord>) {
      if (!audit) return toRecord(await db.user.update({ where: { id }, data: toData(u) })) // sign-in: one statement
      return audited(db, audit, async (tx) => toRecord(await tx.user.update({ where: { id }, data: toData(u) })))
    },
    /**
     * Updates a user and revokes all their sign-in sessions in one transaction with the audit
     * record (disable, password reset): the record's session count is what this change ended;
     * `keep` is a session that stays (the one changing its own password).
     * The caller ends the linked oidc-provider sessions after the commit (sessions.afterRevoked).
     */
    updateSigningOut(
      id: string,
      u: Partial<UserWrite>,
      audit?: Audited<{ user: UserRecord; ended: SessionRecord[] }>,
      keep?: string,
    ) {
      return audited(db, audit, async (tx) => ({
        user: toRecord(await tx.user.update({ where: { id }, data: toData(u) })),
        ended: await revokeSessionsIn(tx, id, 'all', new Date(), keep),
      }))
    },
  }
}
export type UserQueries = ReturnType<typeof userQueries>

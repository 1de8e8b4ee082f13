import type { Db } from '../db/client.ts'

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
  return { ...row, roles: JSON.parse(row.roles) as string[], attributes: JSON.parse(row.attributes) as Record<string, unknown> }
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
    async create(id: string, u: UserWrite) {
      return toRecord(await db.user.create({ data: { id, ...toData(u), email: u.email } }))
    },
    async update(id: string, u: Partial<UserWrite> & { lastLoginAt?: Date }) {
      return toRecord(await db.user.update({ where: { id }, data: toData(u) }))
    },
  }
}
export type UserQueries = ReturnType<typeof userQueries>

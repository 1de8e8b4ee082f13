import crypto from 'node:crypto'
import type { AuditLog } from '../audit/log.ts'
import type { Audited, Tx } from '../db/audited.ts'
import { burnVerifyTime, hashFormat, hashPassword, needsRehash, verifyPassword } from './passwords.ts'
import type { UserQueries, UserRecord, UserWrite } from './queries.ts'
import type { SessionRecord } from './queries/sessions.ts'

export const normalizeEmail = (email: string) => email.trim().toLowerCase()

export type LoginFailure = 'unknown_user' | 'bad_password' | 'disabled' | 'no_password'

/** Users: lookup, creation and password login. Routes call this, never argon2 or Prisma. */
export function userService(q: UserQueries, deps: { audit?: AuditLog } = {}) {
  return {
    findById: q.findById,
    list: q.list,
    count: q.count,
    findByEmail: (email: string) => q.findByEmail(normalizeEmail(email)),

    /** `audit` (from `audit.with`): the user and its audit record commit together. */
    async create(
      input: Omit<UserWrite, 'passwordHash'> & { password?: string; passwordHash?: string },
      audit?: Audited<UserRecord>,
      also?: (tx: Tx, user: UserRecord) => Promise<unknown>,
    ) {
      const { password, ...rest } = input
      return q.create(
        crypto.randomUUID(),
        {
          ...rest,
          email: normalizeEmail(rest.email),
          passwordHash: password !== undefined ? await hashPassword(password) : (rest.passwordHash ?? null),
        },
        audit,
        also,
      )
    },

    update: q.update,
    /** Update + all sign-in sessions revoked + audit record, one transaction (queries.updateSigningOut). */
    updateSigningOut: q.updateSigningOut,

    async setPassword(id: string, password: string, audit?: Audited<UserRecord>) {
      return q.update(id, { passwordHash: await hashPassword(password), mustChangePassword: false }, audit)
    },
    /**
     * A new password, and every sign-in session of the user but `keep` revoked (ASVS 3.3.3), in
     * one transaction with `audit`'s record; the caller ends the linked sessions (sessions.afterRevoked).
     */
    async setPasswordSigningOut(
      id: string,
      password: string,
      keep: string | undefined,
      audit?: Audited<{ user: UserRecord; ended: SessionRecord[] }>,
    ) {
      return q.updateSigningOut(
        id,
        { passwordHash: await hashPassword(password), mustChangePassword: false },
        audit,
        keep,
      )
    },

    /**
     * Verifies email + password. Unknown emails cost a full argon2 verification too, and every
     * failure looks the same to the caller (the reason is for the audit log only).
     */
    async login(
      email: string,
      password: string,
    ): Promise<{ ok: true; user: UserRecord } | { ok: false; reason: LoginFailure; user?: UserRecord }> {
      const user = await q.findByEmail(normalizeEmail(email))
      if (!user || !user.passwordHash) {
        await burnVerifyTime(password)
        return { ok: false, reason: user ? 'no_password' : 'unknown_user', user: user ?? undefined }
      }
      if (!(await verifyPassword(user.passwordHash, password))) return { ok: false, reason: 'bad_password', user }
      if (user.disabled) return { ok: false, reason: 'disabled', user }
      // A hash that is not ours (imported from another system, or older parameters) is replaced
      // by argon2id now that the password is known, in one transaction with its audit record.
      const rehash = needsRehash(user.passwordHash)
      const passwordHash = rehash ? await hashPassword(password) : undefined
      const audit = rehash
        ? deps.audit?.with(() => ({
            action: 'user.password_rehashed',
            outcome: 'success',
            actor: user.id,
            target: user.id,
            details: { from: hashFormat(user.passwordHash!), to: 'argon2id' },
          }))
        : undefined
      const updated = await q.update(
        user.id,
        { lastLoginAt: new Date(), ...(passwordHash ? { passwordHash } : {}) },
        audit,
      )
      return { ok: true, user: updated }
    },
  }
}
export type UserService = ReturnType<typeof userService>

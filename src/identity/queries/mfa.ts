import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'

export interface FactorRecord {
  id: string
  userId: string
  type: 'totp' | 'webauthn'
  name: string
  secret: string | null
  lastStep: number | null
  credentialId: string | null
  publicKey: string | null
  counter: number
  transports: string[]
  deviceType: string | null
  backedUp: boolean
  createdAt: Date
  lastUsedAt: Date | null
}

type Row = Awaited<ReturnType<Db['mfaFactor']['findUnique']>> & {}
const toRecord = (r: Row): FactorRecord => ({
  ...r,
  type: r.type as FactorRecord['type'],
  transports: r.transports ? (JSON.parse(r.transports) as string[]) : [],
})

export interface FactorWrite {
  id: string
  userId: string
  type: 'totp' | 'webauthn'
  name: string
  secret?: string
  credentialId?: string
  publicKey?: string
  counter?: number
  transports?: string[]
  deviceType?: string
  backedUp?: boolean
}

/** Second factors and recovery codes. Single-use rules are enforced by conditional updates. */
export function mfaQueries(db: Db) {
  return {
    async listFactors(userId: string) {
      return (await db.mfaFactor.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })).map(toRecord)
    },
    async findFactor(id: string) {
      const r = await db.mfaFactor.findUnique({ where: { id } })
      return r ? toRecord(r) : null
    },
    async findByCredentialId(credentialId: string) {
      const r = await db.mfaFactor.findUnique({ where: { credentialId } })
      return r ? toRecord(r) : null
    },
    async countFactors(userId: string) {
      return db.mfaFactor.count({ where: { userId } })
    },
    /** With `audit`, the factor and its audit record commit together (db/audited.ts). */
    createFactor(f: FactorWrite, audit?: Audited<FactorRecord>) {
      const { transports, ...rest } = f
      return audited(db, audit, async (tx) =>
        toRecord(
          await tx.mfaFactor.create({ data: { ...rest, transports: transports ? JSON.stringify(transports) : null } }),
        ),
      )
    },
    /**
     * Removes a factor, and the recovery codes with the last one (they replace a lost factor), with its audit record.
     */
    removeFactor(userId: string, id: string, audit?: Audited<boolean>) {
      return audited(db, audit, async (tx) => {
        const removed = (await tx.mfaFactor.deleteMany({ where: { id, userId } })).count > 0
        if (removed && (await tx.mfaFactor.count({ where: { userId } })) === 0)
          await tx.recoveryCode.deleteMany({ where: { userId } })
        return removed
      })
    },
    /** Removes every factor and recovery code of a user (helpdesk reset), with its audit record. */
    removeAllFactors(userId: string, audit?: Audited<FactorRecord[]>) {
      return audited(db, audit, async (tx) => {
        const factors = (await tx.mfaFactor.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })).map(
          toRecord,
        )
        await tx.mfaFactor.deleteMany({ where: { userId, id: { in: factors.map((f) => f.id) } } })
        await tx.recoveryCode.deleteMany({ where: { userId } })
        return factors
      })
    },
    /**
     * Accepts TOTP time step `step` only if it is later than the last accepted one, in one
     * conditional UPDATE: two parallel requests with the same code cannot both win (replay).
     */
    async claimTotpStep(id: string, step: number) {
      const { count } = await db.mfaFactor.updateMany({
        where: { id, OR: [{ lastStep: null }, { lastStep: { lt: step } }] },
        data: { lastStep: step, lastUsedAt: new Date() },
      })
      return count === 1
    },
    /**
     * Stores a WebAuthn signature counter only if it moved forward (or both are 0, for
     * authenticators without counters): a cloned authenticator loses the race.
     */
    async advanceCounter(id: string, expected: number, next: number) {
      const { count } = await db.mfaFactor.updateMany({
        where: { id, counter: expected },
        data: { counter: next, lastUsedAt: new Date() },
      })
      return count === 1
    },
    renameFactor(userId: string, id: string, name: string, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) => (await tx.mfaFactor.updateMany({ where: { id, userId }, data: { name } })).count > 0,
      )
    },

    async replaceRecoveryCodes(
      userId: string,
      codes: { id: string; codeHash: string; pepperKid: string }[],
      audit?: Audited<void>,
    ) {
      await audited(db, audit, async (tx) => {
        await tx.recoveryCode.deleteMany({ where: { userId } })
        await tx.recoveryCode.createMany({ data: codes.map((c) => ({ ...c, userId })) })
      })
    },
    async unusedRecoveryCodes(userId: string) {
      return db.recoveryCode.findMany({ where: { userId, usedAt: null } })
    },
    async countUnusedRecoveryCodes(userId: string) {
      return db.recoveryCode.count({ where: { userId, usedAt: null } })
    },
    /** Marks a code used; false when it was already used (by a parallel request, say). */
    async useRecoveryCode(id: string) {
      const { count } = await db.recoveryCode.updateMany({ where: { id, usedAt: null }, data: { usedAt: new Date() } })
      return count === 1
    },
    async deleteRecoveryCodes(userId: string) {
      await db.recoveryCode.deleteMany({ where: { userId } })
    },
  }
}
export type MfaQueries = ReturnType<typeof mfaQueries>

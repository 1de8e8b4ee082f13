import type { Db } from '../db/client.ts'
import { audited, type Audited } from '../db/audited.ts'
import type { Level } from './levels.ts'

export type OwnerType = 'user' | 'client'
export type SigningAlg = 'hmac-sha256' | 'ed25519'

export interface ApiKeyRecord {
  id: string
  ownerType: OwnerType
  ownerId: string
  name: string
  scopes: string[]
  level: Level
  secretHash: string
  pepperKid: string
  allowedIps: string[]
  signingAlg: SigningAlg | null
  /** HMAC secret sealed under the master key, or the Ed25519 public key as a JWK (JSON) */
  signingKey: string | null
  /** requests per minute; null = unlimited */
  rateLimit: number | null
  approvedBy: string | null
  expiresAt: Date
  revokedAt: Date | null
  rotatedTo: string | null
  createdBy: string
  createdAt: Date
  updatedAt: Date
  lastUsedAt: Date | null
  lastUsedIp: string | null
  useCount: number
  expiryWarnedAt: Date | null
}

type Row = Awaited<ReturnType<Db['apiKey']['findUnique']>> & {}

const toRecord = (r: Row): ApiKeyRecord => ({
  ...r,
  ownerType: r.ownerType as OwnerType,
  level: r.level as Level,
  scopes: r.scopes ? r.scopes.split(' ') : [],
  allowedIps: JSON.parse(r.allowedIps) as string[],
  signingAlg: r.signingAlg as SigningAlg | null,
})

export type ApiKeyInsert = Omit<
  ApiKeyRecord,
  'createdAt' | 'updatedAt' | 'lastUsedAt' | 'lastUsedIp' | 'useCount' | 'expiryWarnedAt' | 'revokedAt' | 'rotatedTo'
>
export type ApiKeyPatch = Partial<
  Pick<
    ApiKeyRecord,
    'name' | 'level' | 'allowedIps' | 'rateLimit' | 'approvedBy' | 'expiresAt' | 'revokedAt' | 'rotatedTo'
  >
>

function toData(p: ApiKeyPatch | ApiKeyInsert) {
  const { scopes, allowedIps, ...rest } = p as Partial<ApiKeyRecord>
  return {
    ...rest,
    ...(scopes !== undefined ? { scopes: scopes.join(' ') } : {}),
    ...(allowedIps !== undefined ? { allowedIps: JSON.stringify(allowedIps) } : {}),
  }
}

export interface UsageDelta {
  id: string
  count: number
  lastUsedAt: Date
  lastUsedIp: string
}

export function apiKeyQueries(db: Db) {
  return {
    async find(id: string) {
      const r = await db.apiKey.findUnique({ where: { id } })
      return r ? toRecord(r) : null
    },
    async list(owner?: { type: OwnerType; id: string }) {
      const rows = await db.apiKey.findMany({
        where: owner ? { ownerType: owner.type, ownerId: owner.id } : {},
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      })
      return rows.map(toRecord)
    },
    async findByName(owner: { type: OwnerType; id: string }, name: string) {
      const r = await db.apiKey.findFirst({
        where: { ownerType: owner.type, ownerId: owner.id, name, revokedAt: null, rotatedTo: null },
        orderBy: { createdAt: 'desc' },
      })
      return r ? toRecord(r) : null
    },
    /** With `audit`, the key and its audit record commit together (db/audited.ts). */
    insert(k: ApiKeyInsert, audit?: Audited<ApiKeyRecord>) {
      return audited(db, audit, async (tx) =>
        toRecord(await tx.apiKey.create({ data: toData(k) as Parameters<Db['apiKey']['create']>[0]['data'] })),
      )
    },
    update(id: string, p: ApiKeyPatch, audit?: Audited<ApiKeyRecord>) {
      return audited(db, audit, async (tx) => toRecord(await tx.apiKey.update({ where: { id }, data: toData(p) })))
    },
    /** Issue the successor and shorten the predecessor in one transaction (with the audit record). */
    rotate(oldId: string, successor: ApiKeyInsert, oldExpiresAt: Date, audit?: Audited<ApiKeyRecord>) {
      return audited(db, audit, async (tx) => {
        await tx.apiKey.update({ where: { id: oldId }, data: { rotatedTo: successor.id, expiresAt: oldExpiresAt } })
        return toRecord(
          await tx.apiKey.create({ data: toData(successor) as Parameters<Db['apiKey']['create']>[0]['data'] }),
        )
      })
    },
    /** Usage counters accumulated in memory, written in one transaction per flush. */
    async addUsage(deltas: UsageDelta[]) {
      if (!deltas.length) return
      await db.$transaction(
        deltas.map((d) =>
          db.apiKey.updateMany({
            where: { id: d.id },
            data: { useCount: { increment: d.count }, lastUsedAt: d.lastUsedAt, lastUsedIp: d.lastUsedIp },
          }),
        ),
      )
    },
    /** Live keys expiring before `before` that have not been warned about yet. */
    async expiringUnwarned(now: Date, before: Date) {
      const rows = await db.apiKey.findMany({
        where: { revokedAt: null, rotatedTo: null, expiryWarnedAt: null, expiresAt: { gt: now, lte: before } },
      })
      return rows.map(toRecord)
    },
    /** Marks the warning as sent; false when another instance did it first. */
    markWarned(id: string, at: Date, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) =>
          (await tx.apiKey.updateMany({ where: { id, expiryWarnedAt: null }, data: { expiryWarnedAt: at } })).count ===
          1,
      )
    },
    async countExpiring(now: Date, before: Date) {
      return db.apiKey.count({ where: { revokedAt: null, rotatedTo: null, expiresAt: { gt: now, lte: before } } })
    },
  }
}
export type ApiKeyQueries = ReturnType<typeof apiKeyQueries>

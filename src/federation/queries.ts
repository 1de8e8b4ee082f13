import crypto from 'node:crypto'
import type { Db } from '../db/client.ts'
import { audited, type Audited, type Tx } from '../db/audited.ts'

type LinkWrite = { provider: string; subject: string; userId: string; email: string | null }
/** Inside another change's transaction (the account creation it belongs to). */
export const createLinkIn = (tx: Tx, l: LinkWrite): Promise<FederatedLink> =>
  tx.federatedIdentity.create({ data: { id: crypto.randomUUID(), ...l, lastLoginAt: new Date() } })

export interface StoredProvider {
  alias: string
  /** the import entry as JSON, without secrets */
  config: string
  /** sealed client secret */
  secret: string | null
  /** sealed private JWK (private_key_jwt) */
  privateKey: string | null
  updatedAt: Date
}

export interface FederatedLink {
  id: string
  provider: string
  subject: string
  userId: string
  email: string | null
  createdAt: Date
  lastLoginAt: Date | null
}

/** Storage of upstream identity providers and the links of local accounts to upstream identities. */
export function federationQueries(db: Db) {
  return {
    async listProviders(): Promise<StoredProvider[]> {
      return db.identityProvider.findMany({ orderBy: { alias: 'asc' } })
    },
    async findProvider(alias: string): Promise<StoredProvider | null> {
      return db.identityProvider.findUnique({ where: { alias } })
    },
    async upsertProvider(p: Omit<StoredProvider, 'updatedAt'>): Promise<StoredProvider> {
      return db.identityProvider.upsert({
        where: { alias: p.alias },
        create: p,
        update: { config: p.config, secret: p.secret, privateKey: p.privateKey },
      })
    },
    /** Creates a provider; null when the alias is taken. The audit record commits with it. */
    async createProvider(
      p: Omit<StoredProvider, 'updatedAt'>,
      audit?: Audited<StoredProvider | null>,
    ): Promise<StoredProvider | null> {
      return audited(db, audit, async (tx) => {
        if (await tx.identityProvider.findUnique({ where: { alias: p.alias }, select: { alias: true } })) return null
        return tx.identityProvider.create({ data: p })
      })
    },
    /**
     * Compare-and-swap: writes only if the row still has the `updatedAt` the caller read (If-Match);
     * null when someone else wrote (or deleted) it first.
     */
    async updateProviderIf(
      alias: string,
      seen: Date,
      data: Pick<StoredProvider, 'config' | 'secret' | 'privateKey'>,
      audit?: Audited<StoredProvider | null>,
    ): Promise<StoredProvider | null> {
      return audited(db, audit, async (tx) => {
        const { count } = await tx.identityProvider.updateMany({ where: { alias, updatedAt: seen }, data })
        return count === 1 ? tx.identityProvider.findUnique({ where: { alias } }) : null
      })
    },
    /** Deletes the provider (if still as read) and the links of local accounts to it. */
    async deleteProviderIf(alias: string, seen: Date, audit?: Audited<number | null>): Promise<number | null> {
      return audited(db, audit, async (tx) => {
        const { count } = await tx.identityProvider.deleteMany({ where: { alias, updatedAt: seen } })
        if (count !== 1) return null
        return (await tx.federatedIdentity.deleteMany({ where: { provider: alias } })).count
      })
    },
    async findLink(provider: string, subject: string): Promise<FederatedLink | null> {
      return db.federatedIdentity.findUnique({ where: { provider_subject: { provider, subject } } })
    },
    async linksOf(userId: string): Promise<FederatedLink[]> {
      return db.federatedIdentity.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } })
    },
    /**
     * Links an existing account; `verifyEmail` marks its address verified in the same transaction
     * (the upstream vouched for it and the person proved the account), with `audit`'s record.
     */
    createLink(
      l: LinkWrite,
      audit?: Audited<FederatedLink>,
      opts: { verifyEmail?: boolean } = {},
    ): Promise<FederatedLink> {
      return audited(db, audit, async (tx) => {
        const link = await createLinkIn(tx, l)
        if (opts.verifyEmail) await tx.user.update({ where: { id: l.userId }, data: { emailVerified: true } })
        return link
      })
    },
    createLinkIn,
    async touchLink(id: string, email: string | null) {
      await db.federatedIdentity.update({ where: { id }, data: { lastLoginAt: new Date(), email } })
    },
  }
}
export type FederationQueries = ReturnType<typeof federationQueries>

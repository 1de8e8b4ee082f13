import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'

export interface ClientRow {
  clientId: string
  metadata: Record<string, unknown>
  secretHash: string | null
  /** set while the client is contained (admin/containment.ts): the provider does not find it */
  disabledAt?: Date | null
  createdAt: Date
  updatedAt: Date
}

const toRow = (r: {
  clientId: string
  metadata: string
  secretHash: string | null
  disabledAt?: Date | null
  createdAt: Date
  updatedAt: Date
}): ClientRow => ({ ...r, metadata: JSON.parse(r.metadata) as Record<string, unknown> })

export function clientQueries(db: Db) {
  return {
    async find(clientId: string) {
      const r = await db.client.findUnique({ where: { clientId } })
      return r ? toRow(r) : null
    },
    async list() {
      return (await db.client.findMany({ orderBy: { clientId: 'asc' } })).map(toRow)
    },
    /** With `audit`, the client and its audit record commit together (db/audited.ts). */
    async upsert(
      clientId: string,
      metadata: Record<string, unknown>,
      secretHash: string | null | undefined,
      audit?: Audited<void>,
    ) {
      const data = { metadata: JSON.stringify(metadata), ...(secretHash !== undefined ? { secretHash } : {}) }
      await audited(db, audit, async (tx) => {
        await tx.client.upsert({
          where: { clientId },
          create: { clientId, ...data, secretHash: secretHash ?? null },
          update: data,
        })
      })
    },
    /** Disables (a date) or enables (null) a client; false when there is no such client. */
    /** With `audit`, the change and its record commit together (db/audited.ts). */
    setDisabled(clientId: string, at: Date | null, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) => (await tx.client.updateMany({ where: { clientId }, data: { disabledAt: at } })).count === 1,
      )
    },
    /**
     * Deletes a client and, in the same transaction, what it holds in the database (RFC 7592
     * §2.3): its grants (consent) and every credential issued under them, the codes and tokens
     * it holds without a grant (client credentials, pending device and CIBA requests, pushed
     * requests), and its entry in every provider session. With `audit`, the record commits with
     * them (db/audited.ts). Returns the grants removed: JWT access tokens issued under them and
     * what Redis holds are revoked by the caller (client-removal.ts).
     */
    async remove(clientId: string, audit?: Audited<ClientRemoval> | Audited<void>): Promise<ClientRemoval> {
      // a record that does not look at the result (Audited<void>) is given it all the same
      return audited(db, audit as Audited<ClientRemoval> | undefined, async (tx) => {
        const removed = (await tx.client.deleteMany({ where: { clientId } })).count === 1
        const key = JSON.stringify(clientId)
        const grants = await tx.oidcPayload.findMany({
          where: { model: 'Grant', payload: { contains: `"clientId":${key}` } },
          select: { id: true, payload: true },
        })
        // the text match narrows; the parsed payload decides
        const grantIds = grants.filter((g) => parsed(g.payload).clientId === clientId).map((g) => g.id)
        // an Interaction carries the grant it may extend but is a browser's pending sign-in (adapters.ts)
        await tx.oidcPayload.deleteMany({ where: { grantId: { in: grantIds }, model: { not: 'Interaction' } } })
        await tx.oidcPayload.deleteMany({ where: { model: 'Grant', id: { in: grantIds } } })
        await tx.oidcPayload.deleteMany({
          where: { model: { in: [...HELD_WITHOUT_GRANT] }, payload: { contains: `"clientId":${key}` } },
        })
        const sessions = await tx.oidcPayload.findMany({
          where: { model: 'Session', payload: { contains: key } },
          select: { id: true, payload: true },
        })
        let sessionsChanged = 0
        for (const s of sessions) {
          const payload = withoutClient(s.payload, clientId)
          if (payload === undefined) continue
          await tx.oidcPayload.update({ where: { model_id: { model: 'Session', id: s.id } }, data: { payload } })
          sessionsChanged++
        }
        return { removed, grantIds, sessionsChanged }
      })
    },
  }
}

/** What removing a client took with it (clientQueries.remove). */
export interface ClientRemoval {
  removed: boolean
  grantIds: string[]
  sessionsChanged: number
}

/** Models a client may hold outside any grant: they name it in their payload's clientId. */
const HELD_WITHOUT_GRANT: ReadonlySet<string> = new Set([
  'ClientCredentials',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest',
  'AuthorizationCode',
])

const parsed = (payload: string) => JSON.parse(payload) as Record<string, unknown>

/**
 * A provider session's payload without the client's entry in `authorizations` (the client's
 * sid and grant in that session); undefined when the session has no such entry.
 */
export function withoutClient(payload: string, clientId: string): string | undefined {
  const session = parsed(payload)
  const authorizations = session.authorizations as Record<string, unknown> | undefined
  if (!authorizations || !Object.hasOwn(authorizations, clientId)) return undefined
  const { [clientId]: _gone, ...rest } = authorizations
  return JSON.stringify({ ...session, authorizations: rest })
}
export type ClientQueries = ReturnType<typeof clientQueries>

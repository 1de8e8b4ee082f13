import type { Db } from '../db/client.ts'
import { audited, type Audited } from '../db/audited.ts'

type UserWhere = NonNullable<NonNullable<Parameters<Db['user']['findMany']>[0]>['where']>
type ClientWhere = NonNullable<NonNullable<Parameters<Db['client']['findMany']>[0]>['where']>
type UserData = NonNullable<Parameters<Db['user']['updateMany']>[0]>['data']

/** A position in a list ordered by (createdAt, id): both, so equal timestamps never skip rows. */
export interface Cursor {
  createdAt: Date
  id: string
}

export interface UserFilter {
  /** substring of the (lowercase) email */
  email?: string
  /** substring of the name */
  name?: string
  /** holds this role (users' `roles` field) */
  role?: string
  /** attributes[key] equals value (JSON) */
  attribute?: { key: string; value: unknown }
  status?: 'active' | 'disabled'
}

/** Invitations of earlier versions were settings rows; only deleting a user still removes them. */
const LEGACY_INVITE_PREFIX = 'admin.invite:'

/** After the cursor in (createdAt, id) order. */
const after = (c: Cursor | undefined) =>
  c ? { OR: [{ createdAt: { gt: c.createdAt } }, { createdAt: c.createdAt, id: { gt: c.id } }] } : {}

/**
 * Storage for the admin services: user search pages, compare-and-swap updates and the cascade
 * of a user's deletion. (Invitations are mailed links: identity/queries/email-tokens.ts.)
 */
export function adminQueries(db: Db) {
  return {
    /**
     * One page of users in (createdAt, id) order after `cursor`. Rows inserted meanwhile get a
     * later createdAt, so they land after the pages already read: none is repeated or skipped.
     * Role and attribute filters narrow by the JSON text in SQL; the caller re-checks exactly.
     */
    async searchUsers(f: UserFilter, cursor: Cursor | undefined, take: number) {
      const and: UserWhere[] = [after(cursor)]
      if (f.email) and.push({ email: { contains: f.email.toLowerCase() } })
      if (f.name) and.push({ name: { contains: f.name } })
      if (f.role) and.push({ roles: { contains: JSON.stringify(f.role) } })
      if (f.attribute) and.push({ attributes: { contains: JSON.stringify(f.attribute.key) } })
      if (f.status) and.push({ disabled: f.status === 'disabled' })
      return db.user.findMany({ where: { AND: and }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take })
    },

    async searchClients(cursor: Cursor | undefined, take: number, idContains?: string) {
      const where: ClientWhere = {
        AND: [
          cursor
            ? {
                OR: [
                  { createdAt: { gt: cursor.createdAt } },
                  { createdAt: cursor.createdAt, clientId: { gt: cursor.id } },
                ],
              }
            : {},
          idContains ? { clientId: { contains: idContains } } : {},
        ],
      }
      return db.client.findMany({ where, orderBy: [{ createdAt: 'asc' }, { clientId: 'asc' }], take })
    },

    /**
     * Compare-and-swap for If-Match: writes only if the row still has the `updatedAt` the caller
     * saw and the fields the ETag covers unchanged; false when someone else wrote first.
     */
    updateUserIf(
      id: string,
      seen: {
        updatedAt: Date
        roles: string
        attributes: string
        name: string | null
        email: string
        emailVerified: boolean
        disabled: boolean
      },
      data: UserData,
      audit?: Audited<boolean>,
    ) {
      return audited(db, audit, async (tx) => (await tx.user.updateMany({ where: { id, ...seen }, data })).count === 1)
    },

    updateClientIf(
      clientId: string,
      seen: { updatedAt: Date; metadata: string },
      metadata: string,
      audit?: Audited<boolean>,
    ) {
      return audited(
        db,
        audit,
        async (tx) => (await tx.client.updateMany({ where: { clientId, ...seen }, data: { metadata } })).count === 1,
      )
    },

    /**
     * The rows a user leaves behind, removed with the user in one transaction: second factors,
     * recovery codes, sign-in sessions (already revoked by then), invitations, and oidc-provider
     * grants and sessions of the account (and every token issued under those grants).
     */
    async deleteUser(id: string, grantIds: string[], audit?: Audited<void>) {
      await audited(db, audit, async (tx) => {
        await tx.oidcPayload.deleteMany({ where: { grantId: { in: grantIds } } })
        await tx.oidcPayload.deleteMany({ where: { model: 'Grant', id: { in: grantIds } } })
        await tx.oidcPayload.deleteMany({
          where: { model: 'Session', payload: { contains: `"accountId":${JSON.stringify(id)}` } },
        })
        await tx.mfaFactor.deleteMany({ where: { userId: id } })
        await tx.recoveryCode.deleteMany({ where: { userId: id } })
        await tx.userSession.deleteMany({ where: { userId: id } })
        // mailed links (invitations, resets, verifications): useless without the user, and they name its address
        await tx.emailToken.deleteMany({ where: { userId: id } })
        // invitations of earlier versions (the retired /invite/<token> links)
        await tx.setting.deleteMany({
          where: { key: { startsWith: LEGACY_INVITE_PREFIX }, value: { contains: `"userId":${JSON.stringify(id)}` } },
        })
        await tx.user.delete({ where: { id } })
      })
    },

    /** oidc-provider grants (consent) of an account or of a client. */
    async grantIds(where: { accountId?: string; clientId?: string }) {
      const [key, value] =
        where.accountId !== undefined ? ['accountId', where.accountId] : ['clientId', where.clientId!]
      const rows = await db.oidcPayload.findMany({
        where: { model: 'Grant', payload: { contains: `"${key}":${JSON.stringify(value)}` } },
        select: { id: true, payload: true },
      })
      // the text match narrows; the parsed payload decides
      return rows.filter((r) => (JSON.parse(r.payload) as Record<string, unknown>)[key] === value).map((r) => r.id)
    },

    async deleteClientTokens(clientId: string, grantIds: string[]) {
      await db.$transaction([
        db.oidcPayload.deleteMany({ where: { grantId: { in: grantIds } } }),
        db.oidcPayload.deleteMany({ where: { model: 'Grant', id: { in: grantIds } } }),
        // client-credentials tokens have no grant
        db.oidcPayload.deleteMany({
          where: { model: 'ClientCredentials', payload: { contains: `"clientId":${JSON.stringify(clientId)}` } },
        }),
      ])
    },
  }
}
export type AdminQueries = ReturnType<typeof adminQueries>

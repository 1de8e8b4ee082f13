import type { Db } from '../../db/client.ts'
import { audited, type Audited } from '../../db/audited.ts'
import type { Cursor } from '../queries.ts'

/** A time-bound admin role grant (schema.prisma AdminRoleRequest). */
export interface RoleRequestRow {
  id: string
  subject: string
  role: string
  hours: number
  reason: string
  status: string
  requestedBy: string
  decidedBy: string | null
  decidedAt: Date | null
  decisionNote: string | null
  startsAt: Date | null
  expiresAt: Date | null
  expiryAudited: boolean
  createdAt: Date
  updatedAt: Date
}

export interface ReviewRow {
  id: string
  name: string
  status: string
  createdBy: string
  completedBy: string | null
  completedAt: Date | null
  createdAt: Date
  updatedAt: Date
}
export interface ReviewItemRow {
  id: string
  reviewId: string
  kind: string
  subject: string
  entitlement: string
  lastUsedAt: Date | null
  detail: string
  decision: string
  decidedBy: string | null
  decidedAt: Date | null
  note: string | null
  createdAt: Date
  updatedAt: Date
}

const after = (c: Cursor | undefined) =>
  c ? { OR: [{ createdAt: { gt: c.createdAt } }, { createdAt: c.createdAt, id: { gt: c.id } }] } : {}

/**
 * Storage for least privilege over time (issue 12 §5) and containment (§6): time-bound role
 * grants, access review campaigns, and the OIDC rows of an account that containment removes.
 */
export function accessQueries(db: Db) {
  return {
    ...roleRequestQueries(db),
    ...reviewQueries(db),

    /**
     * Containment: every OIDC row of an account — its grants and every token issued under them,
     * and its provider sessions — in one transaction. Returns how many grants went.
     */
    async removeAccountOidc(accountId: string, grantIds: string[]) {
      await db.$transaction([
        db.oidcPayload.deleteMany({ where: { grantId: { in: grantIds } } }),
        db.oidcPayload.deleteMany({ where: { model: 'Grant', id: { in: grantIds } } }),
        db.oidcPayload.deleteMany({
          where: { model: 'Session', payload: { contains: `"accountId":${JSON.stringify(accountId)}` } },
        }),
      ])
      return grantIds.length
    },
  }
}
export type AccessQueries = ReturnType<typeof accessQueries>

/** Time-bound admin role grants (elevation.ts). */
function roleRequestQueries(db: Db) {
  return {
    /** With `audit`, the request and its record commit together (db/audited.ts). */
    createRequest: (
      r: Omit<
        RoleRequestRow,
        | 'createdAt'
        | 'updatedAt'
        | 'decidedBy'
        | 'decidedAt'
        | 'decisionNote'
        | 'startsAt'
        | 'expiresAt'
        | 'expiryAudited'
      >,
      audit?: Audited<RoleRequestRow>,
    ) => audited(db, audit, async (tx) => (await tx.adminRoleRequest.create({ data: r })) as RoleRequestRow),
    findRequest: (id: string) => db.adminRoleRequest.findUnique({ where: { id } }) as Promise<RoleRequestRow | null>,
    listRequests: (f: { status?: string; subject?: string }, cursor: Cursor | undefined, take: number) =>
      db.adminRoleRequest.findMany({
        where: { AND: [after(cursor), f.status ? { status: f.status } : {}, f.subject ? { subject: f.subject } : {}] },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take,
      }) as Promise<RoleRequestRow[]>,
    /** Compare-and-swap on the status, so two approvers (or an approver and a cancel) cannot both win. */
    async decide(
      id: string,
      from: string,
      data: Partial<
        Pick<RoleRequestRow, 'status' | 'decidedBy' | 'decidedAt' | 'decisionNote' | 'startsAt' | 'expiresAt'>
      >,
    ) {
      return (await db.adminRoleRequest.updateMany({ where: { id, status: from }, data })).count === 1
    },
    /**
     * `decide` returning the row as decided (null: someone else won), with its audit record in the same transaction.
     */
    decideAudited(
      id: string,
      from: string,
      data: Partial<
        Pick<RoleRequestRow, 'status' | 'decidedBy' | 'decidedAt' | 'decisionNote' | 'startsAt' | 'expiresAt'>
      >,
      audit?: Audited<RoleRequestRow | null>,
    ) {
      return audited(db, audit, async (tx) =>
        (await tx.adminRoleRequest.updateMany({ where: { id, status: from }, data })).count === 1
          ? ((await tx.adminRoleRequest.findUnique({ where: { id } })) as RoleRequestRow)
          : null,
      )
    },
    /** Approved grants of a subject that are in force at `now`. */
    activeFor: (subject: string, now: Date) =>
      db.adminRoleRequest.findMany({
        where: { subject, status: 'approved', startsAt: { lte: now }, expiresAt: { gt: now } },
      }) as Promise<RoleRequestRow[]>,
    activeAll: (now: Date) =>
      db.adminRoleRequest.findMany({
        where: { status: 'approved', expiresAt: { gt: now } },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }) as Promise<RoleRequestRow[]>,
    /** Expired grants whose expiry is not yet in the audit log. */
    expiredUnaudited: (now: Date, subject?: string) =>
      db.adminRoleRequest.findMany({
        where: { status: 'approved', expiresAt: { lte: now }, expiryAudited: false, ...(subject ? { subject } : {}) },
        take: 100,
      }) as Promise<RoleRequestRow[]>,
    /** Exactly one caller (of every instance) claims an expiry to audit it. */
    async claimExpiry(id: string) {
      return (
        (await db.adminRoleRequest.updateMany({ where: { id, expiryAudited: false }, data: { expiryAudited: true } }))
          .count === 1
      )
    },
  }
}

/** Access review campaigns and their items (reviews.ts). */
function reviewQueries(db: Db) {
  return {
    /** The campaign, its items and (with `audit`) its record in one transaction (db/audited.ts). */
    async createReview(
      review: Pick<ReviewRow, 'id' | 'name' | 'status' | 'createdBy'>,
      items: Omit<
        ReviewItemRow,
        'createdAt' | 'updatedAt' | 'decision' | 'decidedBy' | 'decidedAt' | 'note' | 'reviewId'
      >[],
      audit?: Audited<void>,
    ) {
      await audited(db, audit, async (tx) => {
        await tx.accessReview.create({ data: review })
        await tx.accessReviewItem.createMany({ data: items.map((i) => ({ ...i, reviewId: review.id })) })
      })
    },
    findReview: (id: string) => db.accessReview.findUnique({ where: { id } }) as Promise<ReviewRow | null>,
    listReviews: (cursor: Cursor | undefined, take: number) =>
      db.accessReview.findMany({
        where: after(cursor),
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take,
      }) as Promise<ReviewRow[]>,
    reviewItems: (reviewId: string, f: { decision?: string }, afterId: string | undefined, take: number) =>
      db.accessReviewItem.findMany({
        where: {
          reviewId,
          ...(f.decision ? { decision: f.decision } : {}),
          ...(afterId ? { id: { gt: afterId } } : {}),
        },
        orderBy: { id: 'asc' },
        take,
      }) as Promise<ReviewItemRow[]>,
    findItem: (reviewId: string, id: string) =>
      db.accessReviewItem.findFirst({ where: { reviewId, id } }) as Promise<ReviewItemRow | null>,
    decideItem(
      reviewId: string,
      id: string,
      seen: Date,
      data: Pick<ReviewItemRow, 'decision' | 'decidedBy' | 'decidedAt' | 'note'>,
      audit?: Audited<boolean>,
    ) {
      return audited(
        db,
        audit,
        async (tx) =>
          (await tx.accessReviewItem.updateMany({ where: { reviewId, id, updatedAt: seen }, data })).count === 1,
      )
    },
    countItems: async (reviewId: string) => {
      const rows = await db.accessReviewItem.groupBy({ by: ['decision'], where: { reviewId }, _count: { _all: true } })
      return Object.fromEntries(rows.map((r) => [r.decision, r._count._all])) as Record<string, number>
    },
    completeReview(id: string, by: string, at: Date, audit?: Audited<boolean>) {
      return audited(
        db,
        audit,
        async (tx) =>
          (
            await tx.accessReview.updateMany({
              where: { id, status: 'open' },
              data: { status: 'completed', completedBy: by, completedAt: at },
            })
          ).count === 1,
      )
    },
  }
}

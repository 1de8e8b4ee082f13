import { z } from 'zod'
import { defineRoute, reply, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { ADMIN_ROLES, adminCallerOf } from './authority.ts'
import { containInput } from './containment.ts'
import { MAX_ELEVATION_HOURS } from './elevation.ts'
import type { AdminServices } from './service.ts'
import {
  adminAuth as auth,
  adminReadAuth as readAuth,
  adminRoute,
  adminTags as tags,
  date,
  etagHeader,
  forbiddenDoc as forbidden,
  ifMatchHeader,
  ifMatchOf,
  json,
  pageQuery,
  staleDoc as stale,
} from './route-kit.ts'

const USER_REF = z.string().min(1).max(320).describe('the user id (or email)')
const CLIENT_ID = z.string().regex(/^[\w.:-]{1,100}$/, 'a client id is 1-100 letters, digits, _ . : -')
const ID = z.string().regex(/^[\w-]{1,100}$/, 'an id from a list')
const note = z
  .object({
    note: z
      .string()
      .trim()
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters')
      .optional(),
  })
  .strict()
const notFound = (what: string) => ({ description: `no such ${what} (error not_found)` })
const conflict = { description: 'not in a state that allows this (error invalid_state)' }
const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().optional() })

const roleRequest = z.object({
  id: z.string(),
  subject: z.string(),
  role: z.string(),
  hours: z.number().int(),
  reason: z.string(),
  status: z.enum(['pending', 'active', 'expired', 'denied', 'cancelled', 'revoked']),
  requestedBy: z.string(),
  decidedBy: z.string().nullable(),
  decidedAt: date.nullable(),
  decisionNote: z.string().nullable(),
  startsAt: date.nullable(),
  expiresAt: date.nullable(),
  createdAt: date,
  etag: z.string(),
})
const review = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(['open', 'completed']),
  createdBy: z.string(),
  createdAt: date,
  completedBy: z.string().nullable(),
  completedAt: date.nullable(),
  counts: z.object({ pending: z.number().int(), confirmed: z.number().int(), revoked: z.number().int() }),
})
const reviewItem = z.object({
  id: z.string(),
  kind: z.enum(['admin_role', 'elevated_role', 'management_scope', 'api_key']),
  subject: z.string(),
  entitlement: z.string(),
  lastUsedAt: date.nullable().describe('last sign-in of a user, last use of an API key'),
  detail: z.record(z.string(), z.unknown()),
  decision: z.enum(['pending', 'confirmed', 'revoked']),
  decidedBy: z.string().nullable(),
  decidedAt: date.nullable(),
  note: z.string().nullable(),
  etag: z.string(),
})
const requestParams = z.object({ id: ID })
const requestAction = <const O extends string, const P extends string>(
  operationId: O,
  path: P,
  summary: string,
  withIfMatch = true,
) =>
  defineRoute({
    operationId,
    method: 'post',
    path: `/admin/v1/role-requests/:id/${path}` as const,
    tags,
    auth,
    noStore: true,
    params: requestParams,
    summary,
    ...(withIfMatch ? { headers: ifMatchHeader } : {}),
    body: { schema: note, optional: true },
    responses: {
      200: { description: 'the request after the change', headers: etagHeader, body: roleRequest },
      403: forbidden,
      404: notFound('role request'),
      409: conflict,
      412: stale,
    },
  })

export const adminAccessContracts = {
  containUser: defineRoute({
    operationId: 'adminContainUser',
    method: 'post',
    path: '/admin/v1/users/:id/contain',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: USER_REF }),
    summary:
      'Containment: end every session, grant and token, revoke every API key and time-bound role, disable the user, record why',
    body: { schema: containInput },
    responses: {
      200: {
        description: 'what was done',
        body: z.object({
          sessionsEnded: z.number().int(),
          apiKeysRevoked: z.array(z.string()),
          grantsRevoked: z.number().int(),
          elevationsEnded: z.array(z.string()),
          disabled: z.literal(true),
          wasDisabled: z.boolean(),
          receiversNotified: z
            .number()
            .int()
            .nullable()
            .describe(
              "clients told by back-channel logout (OpenID Connect Back-Channel Logout 1.0) that the user's sessions ended",
            ),
        }),
      },
      403: forbidden,
      404: notFound('user'),
      409: { description: 'the last enabled administrator (error last_admin)' },
    },
  }),
  containClient: defineRoute({
    operationId: 'adminContainClient',
    method: 'post',
    path: '/admin/v1/clients/:id/contain',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: CLIENT_ID }),
    summary:
      'Containment: disable the client (it can no longer authenticate), delete its grants and tokens, revoke its API keys, record why',
    body: { schema: containInput },
    responses: {
      200: {
        description: 'what was done',
        body: z.object({
          apiKeysRevoked: z.array(z.string()),
          grantsRevoked: z.number().int(),
          disabled: z.literal(true),
          wasDisabled: z.boolean(),
          receiversNotified: z
            .number()
            .int()
            .nullable()
            .describe('receivers told by a configured sign-out notifier; null without one'),
        }),
      },
      403: forbidden,
      404: notFound('client'),
    },
  }),
  enableClient: defineRoute({
    operationId: 'adminEnableClient',
    method: 'post',
    path: '/admin/v1/clients/:id/enable',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: CLIENT_ID }),
    summary: 'Let a contained client authenticate again (rotate its secret too)',
    body: { schema: containInput },
    responses: {
      200: { description: 'done', body: z.object({ disabled: z.literal(false), changed: z.boolean() }) },
      403: forbidden,
      404: notFound('client'),
    },
  }),
  requestRole: defineRoute({
    operationId: 'adminRequestRole',
    method: 'post',
    path: '/admin/v1/role-requests',
    tags,
    auth,
    noStore: true,
    summary: `Ask for an admin role for 1-${MAX_ELEVATION_HOURS} hours with a reason; another administrator approves`,
    body: {
      schema: z
        .object({
          role: z.enum(ADMIN_ROLES),
          hours: z.number().int().min(1).max(MAX_ELEVATION_HOURS),
          reason: z.string().trim().min(3).max(500),
          subject: z
            .string()
            .regex(/^user:.{1,320}$/, 'user:ID')
            .optional()
            .describe('file it for this user (needs roles:grant); default: the calling user'),
        })
        .strict(),
    },
    responses: {
      201: { description: 'the pending request', headers: etagHeader, body: roleRequest },
      403: { description: 'the caller is not a user and may not file for one (error forbidden)' },
      404: notFound('user'),
      409: conflict,
    },
  }),
  listRoleRequests: defineRoute({
    operationId: 'adminListRoleRequests',
    method: 'get',
    path: '/admin/v1/role-requests',
    tags,
    auth: readAuth,
    noStore: true,
    summary:
      'Time-bound role requests and grants (holders of roles:read see all, anyone else their own), creation order, cursor-paged',
    query: z
      .object({
        status: z.enum(['pending', 'approved', 'denied', 'cancelled', 'revoked']).optional(),
        subject: z.string().max(330).optional(),
        ...pageQuery,
      })
      .strict(),
    responses: { 200: { description: 'one page', body: pageOf(roleRequest) } },
  }),
  getRoleRequest: defineRoute({
    operationId: 'adminGetRoleRequest',
    method: 'get',
    path: '/admin/v1/role-requests/:id',
    tags,
    auth: readAuth,
    noStore: true,
    params: requestParams,
    summary: 'One time-bound role request',
    responses: {
      200: { description: 'the request', headers: etagHeader, body: roleRequest },
      403: forbidden,
      404: notFound('role request'),
    },
  }),
  approveRoleRequest: requestAction(
    'adminApproveRoleRequest',
    'approve',
    'Approve (roles:grant, never the requester): the role holds from now for the hours asked',
  ),
  denyRoleRequest: requestAction('adminDenyRoleRequest', 'deny', 'Deny a pending request'),
  cancelRoleRequest: requestAction(
    'adminCancelRoleRequest',
    'cancel',
    'The requester withdraws a pending request',
    false,
  ),
  revokeRoleRequest: requestAction('adminRevokeRoleRequest', 'revoke', 'End an active time-bound grant now'),
  createReview: defineRoute({
    operationId: 'adminCreateAccessReview',
    method: 'post',
    path: '/admin/v1/access-reviews',
    tags,
    auth,
    noStore: true,
    summary:
      'Start an access review: a snapshot of admin roles, time-bound grants, management scopes and live API keys',
    body: { schema: z.object({ name: z.string().trim().min(1).max(200) }).strict() },
    responses: { 201: { description: 'the campaign', body: review }, 403: forbidden },
  }),
  listReviews: defineRoute({
    operationId: 'adminListAccessReviews',
    method: 'get',
    path: '/admin/v1/access-reviews',
    tags,
    auth: readAuth,
    noStore: true,
    summary: 'Access review campaigns',
    query: z.object(pageQuery).strict(),
    responses: { 200: { description: 'one page', body: pageOf(review) }, 403: forbidden },
  }),
  getReview: defineRoute({
    operationId: 'adminGetAccessReview',
    method: 'get',
    path: '/admin/v1/access-reviews/:id',
    tags,
    auth: readAuth,
    noStore: true,
    params: z.object({ id: ID }),
    summary: 'One campaign with its counts',
    responses: { 200: { description: 'the campaign', body: review }, 403: forbidden, 404: notFound('access review') },
  }),
  listReviewItems: defineRoute({
    operationId: 'adminListAccessReviewItems',
    method: 'get',
    path: '/admin/v1/access-reviews/:id/items',
    tags,
    auth: readAuth,
    noStore: true,
    params: z.object({ id: ID }),
    summary: 'Who holds what, with last use',
    query: z.object({ decision: z.enum(['pending', 'confirmed', 'revoked']).optional(), ...pageQuery }).strict(),
    responses: {
      200: { description: 'one page', body: pageOf(reviewItem) },
      403: forbidden,
      404: notFound('access review'),
    },
  }),
  decideReviewItem: defineRoute({
    operationId: 'adminDecideAccessReviewItem',
    method: 'post',
    path: '/admin/v1/access-reviews/:id/items/:item',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: ID, item: ID }),
    headers: ifMatchHeader,
    summary: 'Confirm or revoke one holding; a revoke takes effect at once',
    body: {
      schema: z
        .object({ decision: z.enum(['confirm', 'revoke']), note: z.string().trim().max(500).optional() })
        .strict(),
    },
    responses: {
      200: { description: 'the item', headers: etagHeader, body: reviewItem },
      403: forbidden,
      404: notFound('item'),
      409: conflict,
      412: stale,
    },
  }),
  completeReview: defineRoute({
    operationId: 'adminCompleteAccessReview',
    method: 'post',
    path: '/admin/v1/access-reviews/:id/complete',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: ID }),
    summary: 'Close a campaign whose items are all decided; its outcome goes to the compliance report',
    responses: {
      200: { description: 'the completed campaign', body: review },
      403: forbidden,
      404: notFound('access review'),
      409: conflict,
    },
  }),
}

export function adminAccessRoutes(admin: AdminServices): Route[] {
  const c = adminAccessContracts
  const who = (caller: Caller) => adminCallerOf(caller)
  const e = admin.elevation
  const withTag = <T extends { etag: string }>(v: T) => reply(200, json(v), { ETag: v.etag })
  /** approve, deny, revoke: authority first (a caller who may not act learns nothing), then If-Match. */
  const decided =
    (run: typeof e.approve) =>
    async (
      { caller, params, body }: { caller: Caller; params: { id: string }; body?: unknown },
      ctx: Parameters<typeof ifMatchOf>[0],
    ) => {
      await admin.authority.require(who(caller), 'roles:grant')
      return withTag(
        await run(who(caller), params.id, body ?? {}, ifMatchOf(ctx, e.view(await e.find(params.id)).etag)),
      )
    }
  return [
    adminRoute(c.containUser, async ({ caller, params, body }) => admin.containment.user(who(caller), params.id, body)),
    adminRoute(c.containClient, async ({ caller, params, body }) =>
      admin.containment.client(who(caller), params.id, body),
    ),
    adminRoute(c.enableClient, async ({ caller, params, body }) =>
      admin.containment.enableClient(who(caller), params.id, body),
    ),
    adminRoute(c.requestRole, async ({ caller, body }) => {
      const v = await e.request(
        who(caller),
        body,
        async (ref) => (await admin.users.find(ref).catch(() => null))?.id ?? null,
      )
      return reply(201, json(v), { ETag: v.etag })
    }),
    adminRoute(c.listRoleRequests, async ({ caller, query }) => json(await e.list(who(caller), query))),
    adminRoute(c.getRoleRequest, async ({ caller, params }) => withTag(await e.read(who(caller), params.id))),
    adminRoute(c.approveRoleRequest, decided(e.approve)),
    adminRoute(c.denyRoleRequest, decided(e.deny)),
    adminRoute(c.cancelRoleRequest, async ({ caller, params }) => withTag(await e.cancel(who(caller), params.id))),
    adminRoute(c.revokeRoleRequest, decided(e.revoke)),
    adminRoute(c.createReview, async ({ caller, body }) =>
      reply(201, json(await admin.reviews.create(who(caller), body))),
    ),
    adminRoute(c.listReviews, async ({ caller, query }) => json(await admin.reviews.list(who(caller), query))),
    adminRoute(c.getReview, async ({ caller, params }) => json(await admin.reviews.read(who(caller), params.id))),
    adminRoute(c.listReviewItems, async ({ caller, params, query }) =>
      json(await admin.reviews.items(who(caller), params.id, query)),
    ),
    adminRoute(c.decideReviewItem, async ({ caller, params, body }, ctx) => {
      const ac = who(caller)
      await admin.authority.require(ac, 'roles:grant')
      const current = await admin.reviews.item(ac, params.id, params.item)
      return withTag(await admin.reviews.decide(ac, params.id, params.item, body, ifMatchOf(ctx, current.etag)))
    }),
    adminRoute(c.completeReview, async ({ caller, params }) =>
      json(await admin.reviews.complete(who(caller), params.id)),
    ),
  ]
}

import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { defineRoute, reply, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { ADMIN_READ_SCOPE, ADMIN_ROLES, ADMIN_SCOPE, adminCallerOf, type AdminAction } from './authority.ts'
import { adminError } from './errors.ts'
import type { AdminServices } from './service.ts'
import { PAGE_MAX } from './shared.ts'
import { adminRoute, json, precondition } from './route-kit.ts'
import { adminPlatformRoutes } from './routes-platform.ts'
import { adminAccessRoutes } from './routes-access.ts'
import { adminIdpRoutes } from './routes-idps.ts'

export interface AdminRouteDeps {
  admin: AdminServices
  /** MANAGEMENT_ALLOWED_IPS guard (http/middleware/management-ips.ts), ahead of authentication. */
  management?: Middleware
}

/**
 * The admin API (issue 12 §1) under /admin/v1. The token needs the `admin` scope — a
 * management scope, which a client gets only when its registered `scope` names it and an API
 * key only when its owner holds it — and then every action is decided by the PDP from the
 * built-in `system` store (authority.ts): a client credentials token acts with the admin roles
 * granted to `client:ID`, an API key with its owner's, so holding the scope alone administers
 * nothing. Reads also accept `admin:read`. Behind the management IP allowlist.
 */
// `users`: the admin console's user tokens too (admin/console/), decided by the PDP like any caller.
const auth = { scopes: [ADMIN_SCOPE], management: true, users: true } as const
/** Reads also take `admin:read`, which authority.ts bounds to the `*:read` actions. */
const readAuth = { scopes: [ADMIN_SCOPE, ADMIN_READ_SCOPE], management: true, users: true } as const
const tags = ['Administration'] as const

const date = z.string().describe('ISO 8601 date-time')
const userView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  roles: z.array(z.string()),
  attributes: z.record(z.string(), z.unknown()),
  emailVerified: z.boolean(),
  disabled: z.boolean(),
  mustChangePassword: z.boolean(),
  mustVerifyEmail: z.boolean().describe('self-registered: no sign-in completes before the address is verified'),
  hasPassword: z.boolean(),
  createdAt: date,
  updatedAt: date,
  lastLoginAt: date.nullable(),
  etag: z.string(),
})
const clientView = z.object({
  clientId: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  hasSecret: z.boolean(),
  createdAt: date,
  updatedAt: date,
  etag: z.string(),
})
const adminRoles = z.array(z.enum(ADMIN_ROLES))
const sessionView = z.object({
  id: z.string(),
  createdAt: date,
  lastSeenAt: date,
  expiresAt: date,
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  amr: z.unknown(),
})

const ROLE = z.string().regex(/^[\w:.-]{1,64}$/, 'a role is 1-64 letters, digits, _ : . -')
const attributes = z.record(z.string().min(1).max(64), z.unknown())
const USER_REF = z.string().min(1).max(320).describe('the user id (or email)')
const CLIENT_ID = z.string().regex(/^[\w.:-]{1,100}$/, 'a client id is 1-100 letters, digits, _ . : -')
const metadata = z.record(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'metadata names are snake_case'), z.unknown())
const limit = z
  .string()
  .regex(/^\d{1,4}$/, `a whole number from 1 to ${PAGE_MAX}`)
  .transform(Number)
  .refine((n) => n >= 1 && n <= PAGE_MAX, `a whole number from 1 to ${PAGE_MAX}`)
const page = {
  cursor: z.string().max(200).optional().describe('nextCursor of the previous page'),
  limit: limit.optional().describe(`page size, default 50, at most ${PAGE_MAX}`),
}

const userParams = z.object({ id: USER_REF })
const clientParams = z.object({ id: CLIENT_ID })
const ifMatchDoc = {
  'If-Match':
    'the ETag read before (RFC 9110 §13.1.1); optional: without it the write is unconditional, with a stale one it is a 412',
}
const etagDoc = { ETag: 'strong entity tag of the returned representation (RFC 9110 §8.8.3)' }
const notFound = { description: 'no such user or client (error not_found)' }
const forbidden = {
  description:
    "the caller's admin roles do not allow this action (error forbidden), or the token lacks the admin scope (insufficient_scope)",
}
const stale = { description: 'If-Match does not match the current ETag (error precondition_failed)' }

export const adminUserContracts = {
  createUser: defineRoute({
    operationId: 'adminCreateUser',
    method: 'post',
    path: '/admin/v1/users',
    tags,
    auth,
    noStore: true,
    summary:
      'Create a user: with an initial password (given, or generated and returned once; changed at first sign-in) or an invitation link',
    body: {
      schema: z
        .object({
          email: z.email(),
          name: z.string().trim().min(1).max(200).optional(),
          roles: z.array(ROLE).max(50).optional(),
          attributes: attributes.optional(),
          emailVerified: z.boolean().optional(),
          password: z.string().max(1024).optional(),
          invite: z.boolean().optional(),
        })
        .strict(),
    },
    responses: {
      201: {
        description:
          'the user; `password` when one was generated, `invitation` when asked for (both shown once; the invitation is also mailed to the user: a single-use set-password link)',
        headers: etagDoc,
        body: z.object({
          user: userView,
          password: z.string().optional(),
          invitation: z.object({ url: z.string(), expiresAt: date }).optional(),
        }),
      },
      403: forbidden,
      409: { description: 'a user with this email exists (error user_exists)' },
    },
  }),
  listUsers: defineRoute({
    operationId: 'adminListUsers',
    method: 'get',
    path: '/admin/v1/users',
    tags,
    auth: readAuth,
    noStore: true,
    summary: 'Search users (creation order, cursor-paged: stable under concurrent inserts)',
    query: z
      .object({
        email: z.string().max(320).optional().describe('substring of the email'),
        name: z.string().max(200).optional().describe('substring of the name'),
        role: ROLE.optional(),
        attribute: z
          .string()
          .regex(/^[^=]{1,64}=.*$/, 'attribute filters are KEY=VALUE')
          .max(1000)
          .optional()
          .describe('KEY=VALUE (VALUE as JSON when it parses)'),
        status: z.enum(['active', 'disabled']).optional(),
        ...page,
      })
      .strict(),
    responses: {
      200: {
        description: 'one page; nextCursor is absent on the last page',
        body: z.object({ items: z.array(userView), nextCursor: z.string().optional() }),
      },
      403: forbidden,
    },
  }),
  getUser: defineRoute({
    operationId: 'adminGetUser',
    method: 'get',
    path: '/admin/v1/users/:id',
    tags,
    auth: readAuth,
    noStore: true,
    params: userParams,
    summary: 'Read a user, with the admin roles granted to them',
    responses: {
      200: { description: 'the user', headers: etagDoc, body: userView.extend({ adminRoles }) },
      403: forbidden,
      404: notFound,
    },
  }),
  updateUser: defineRoute({
    operationId: 'adminUpdateUser',
    method: 'patch',
    path: '/admin/v1/users/:id',
    tags,
    auth,
    noStore: true,
    params: userParams,
    headers: ifMatchDoc,
    summary: 'Update name, roles, attributes or emailVerified (roles and attributes are replaced as a whole)',
    body: {
      schema: z
        .object({
          name: z.string().trim().min(1).max(200).nullable().optional(),
          roles: z.array(ROLE).max(50).optional(),
          attributes: attributes.optional(),
          emailVerified: z.boolean().optional(),
        })
        .strict(),
    },
    responses: {
      200: { description: 'the user after the change', headers: etagDoc, body: userView },
      403: forbidden,
      404: notFound,
      412: stale,
    },
  }),
  deleteUser: defineRoute({
    operationId: 'adminDeleteUser',
    method: 'delete',
    path: '/admin/v1/users/:id',
    tags,
    auth,
    noStore: true,
    params: userParams,
    headers: ifMatchDoc,
    summary: 'Delete a user: sessions end, API keys are revoked, admin grants, OIDC grants and tokens are deleted',
    responses: {
      200: {
        description: 'what went with the user',
        body: z.object({
          sessionsEnded: z.number().int(),
          apiKeysRevoked: z.array(z.string()),
          adminRolesRevoked: z.array(z.string()),
          grantsRevoked: z.number().int(),
        }),
      },
      403: forbidden,
      404: notFound,
      409: { description: 'the last enabled administrator (error last_admin)' },
      412: stale,
    },
  }),
  ...userActions(),
  listSessions: defineRoute({
    operationId: 'adminListUserSessions',
    method: 'get',
    path: '/admin/v1/users/:id/sessions',
    tags,
    auth,
    noStore: true,
    params: userParams,
    summary: "The user's live sign-in sessions",
    responses: {
      200: { description: 'the sessions', body: z.object({ items: z.array(sessionView) }) },
      403: forbidden,
      404: notFound,
    },
  }),
  revokeSession: defineRoute({
    operationId: 'adminRevokeUserSession',
    method: 'delete',
    path: '/admin/v1/users/:id/sessions/:sid',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: USER_REF, sid: z.string().regex(/^[\w-]{1,100}$/, 'a session id from the session list') }),
    summary: "End one of the user's sessions",
    responses: {
      200: { description: 'ended', body: z.object({ ended: z.number().int() }) },
      403: forbidden,
      404: { description: 'no such user, or no live session with this id (error not_found)' },
    },
  }),
  grantRole: defineRoute({
    operationId: 'adminGrantRole',
    method: 'post',
    path: '/admin/v1/roles/:role/members',
    tags,
    auth,
    noStore: true,
    params: z.object({ role: z.enum(ADMIN_ROLES) }),
    summary: 'Grant an admin role (a new version of the system policy store)',
    body: {
      schema: z
        .object({
          member: z.string().regex(/^(user|client):.{1,320}$/, 'user:ID or client:ID'),
          reason: z.string().max(500).optional(),
        })
        .strict(),
    },
    responses: {
      200: {
        description: 'changed is false when the member already held the role',
        body: z.object({ changed: z.boolean() }),
      },
      403: forbidden,
      404: notFound,
    },
  }),
  revokeRole: defineRoute({
    operationId: 'adminRevokeRole',
    method: 'delete',
    path: '/admin/v1/roles/:role/members/:member',
    tags,
    auth,
    noStore: true,
    params: z.object({
      role: z.enum(ADMIN_ROLES),
      member: z.string().regex(/^(user|client):.{1,320}$/, 'user:ID or client:ID'),
    }),
    summary: 'Revoke an admin role',
    responses: {
      200: {
        description: 'changed is false when the member did not hold the role',
        body: z.object({ changed: z.boolean() }),
      },
      403: forbidden,
      409: { description: 'the last enabled administrator (error last_admin)' },
    },
  }),
}

/** POST /admin/v1/users/:id/<action> contracts: no body, one answer each. */
function userActions() {
  const action = <const O extends string, const P extends string>(
    operationId: O,
    path: P,
    summary: string,
    body: z.ZodType,
  ) =>
    defineRoute({
      operationId,
      method: 'post',
      path: `/admin/v1/users/:id/${path}` as const,
      tags,
      auth,
      noStore: true,
      params: userParams,
      summary,
      responses: { 200: { description: 'done', body }, 403: forbidden, 404: notFound },
    })
  const status = z.object({ user: userView, changed: z.boolean(), sessionsEnded: z.number().int() })
  return {
    disableUser: action(
      'adminDisableUser',
      'disable',
      'Disable a user: sessions end, API keys stop working everywhere',
      status,
    ),
    enableUser: action('adminEnableUser', 'enable', 'Enable a disabled user', status),
    unlockUser: action('adminUnlockUser', 'unlock', 'Lift a sign-in lockout', userView),
    resetMfa: action(
      'adminResetUserMfa',
      'reset-mfa',
      'Remove every second factor and the recovery codes',
      z.object({ factorsRemoved: z.number().int() }),
    ),
    resetPassword: action(
      'adminResetUserPassword',
      'reset-password',
      'Set a temporary password (returned once, changed at next sign-in); sessions end',
      z.object({ password: z.string(), sessionsEnded: z.number().int() }),
    ),
  }
}

export const adminClientContracts = {
  createClient: defineRoute({
    operationId: 'adminCreateClient',
    method: 'post',
    path: '/admin/v1/clients',
    tags,
    auth,
    noStore: true,
    summary: 'Register a client; a confidential one gets a generated secret, returned once',
    body: { schema: z.object({ clientId: CLIENT_ID, metadata }).strict() },
    responses: {
      201: {
        description: 'the client and, if confidential, its secret (shown once)',
        headers: etagDoc,
        body: z.object({ client: clientView, secret: z.string().optional() }),
      },
      403: forbidden,
      409: { description: 'a client with this id exists (error client_exists)' },
    },
  }),
  listClients: defineRoute({
    operationId: 'adminListClients',
    method: 'get',
    path: '/admin/v1/clients',
    tags,
    auth: readAuth,
    noStore: true,
    summary: 'List clients (creation order, cursor-paged), filtered by id substring, grant type or scope',
    query: z
      .object({
        id: z.string().max(100).optional(),
        grantType: z.string().max(100).optional(),
        scope: z.string().max(100).optional(),
        ...page,
      })
      .strict(),
    responses: {
      200: {
        description: 'one page; nextCursor is absent on the last page',
        body: z.object({ items: z.array(clientView), nextCursor: z.string().optional() }),
      },
      403: forbidden,
    },
  }),
  getClient: defineRoute({
    operationId: 'adminGetClient',
    method: 'get',
    path: '/admin/v1/clients/:id',
    tags,
    auth: readAuth,
    noStore: true,
    params: clientParams,
    summary: 'Read a client (never its secret), with the admin roles granted to it',
    responses: {
      200: { description: 'the client', headers: etagDoc, body: clientView.extend({ adminRoles }) },
      403: forbidden,
      404: notFound,
    },
  }),
  updateClient: defineRoute({
    operationId: 'adminUpdateClient',
    method: 'patch',
    path: '/admin/v1/clients/:id',
    tags,
    auth,
    noStore: true,
    params: clientParams,
    headers: ifMatchDoc,
    summary: 'Change metadata fields (RFC 7591 names; null removes one)',
    body: { schema: metadata },
    responses: {
      200: { description: 'the client after the change', headers: etagDoc, body: clientView },
      403: forbidden,
      404: notFound,
      412: stale,
    },
  }),
  deleteClient: defineRoute({
    operationId: 'adminDeleteClient',
    method: 'delete',
    path: '/admin/v1/clients/:id',
    tags,
    auth,
    noStore: true,
    params: clientParams,
    headers: ifMatchDoc,
    summary: 'Delete a client: its API keys are revoked, its admin grants, OIDC grants and tokens deleted',
    responses: {
      200: {
        description: 'what went with the client',
        body: z.object({
          apiKeysRevoked: z.array(z.string()),
          adminRolesRevoked: z.array(z.string()),
          grantsRevoked: z.number().int(),
        }),
      },
      403: forbidden,
      404: notFound,
      412: stale,
    },
  }),
  rotateClientSecret: defineRoute({
    operationId: 'adminRotateClientSecret',
    method: 'post',
    path: '/admin/v1/clients/:id/rotate-secret',
    tags,
    auth,
    noStore: true,
    params: clientParams,
    summary: 'A new secret, shown once; the old one stops working at once',
    responses: {
      200: { description: 'the new secret', body: z.object({ secret: z.string() }) },
      403: forbidden,
      404: notFound,
    },
  }),
}

export function adminRoutes(deps: AdminRouteDeps): Route[] {
  return [
    ...adminUserRoutes(deps),
    ...adminClientRoutes(deps),
    ...adminPlatformRoutes(deps.admin),
    ...adminAccessRoutes(deps.admin),
    ...adminIdpRoutes(deps.admin),
  ]
}

function adminUserRoutes({ admin }: AdminRouteDeps): Route[] {
  const c = adminUserContracts
  const u = admin.users
  const who = (caller: Caller) => adminCallerOf(caller)
  /**
   * The authority first (a caller who may not act learns nothing, not even whether the id exists), then the
   * precondition.
   */
  async function guarded(caller: Caller, action: AdminAction, id: string, ctx: Context) {
    await admin.authority.require(who(caller), action)
    return ctx.get('if-match') ? precondition(ctx, u.view(await u.find(id)).etag) : undefined
  }
  return [
    adminRoute(c.createUser, async ({ caller, body }) => {
      const r = await u.create(who(caller), body)
      return reply(201, json(r), { ETag: r.user.etag })
    }),
    adminRoute(c.listUsers, async ({ caller, query }) => json(await u.search(who(caller), query))),
    adminRoute(c.getUser, async ({ caller, params }) => {
      const r = await u.read(who(caller), params.id)
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.updateUser, async ({ caller, params, body }, ctx) => {
      const r = await u.update(who(caller), params.id, body, await guarded(caller, 'users:write', params.id, ctx))
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.deleteUser, async ({ caller, params }, ctx) => {
      await guarded(caller, 'users:delete', params.id, ctx)
      return json(await u.remove(who(caller), params.id))
    }),
    adminRoute(c.disableUser, async ({ caller, params }) => json(await u.setStatus(who(caller), params.id, true))),
    adminRoute(c.enableUser, async ({ caller, params }) => json(await u.setStatus(who(caller), params.id, false))),
    adminRoute(c.unlockUser, async ({ caller, params }) => json(await u.unlock(who(caller), params.id))),
    adminRoute(c.resetMfa, async ({ caller, params }) => u.resetMfa(who(caller), params.id)),
    adminRoute(c.resetPassword, async ({ caller, params }) => u.resetPassword(who(caller), params.id)),
    adminRoute(c.listSessions, async ({ caller, params }) => ({
      items: json(await u.sessions(who(caller), params.id)),
    })),
    adminRoute(c.revokeSession, async ({ caller, params }) => {
      const ac = who(caller)
      const live = await u.sessions(ac, params.id)
      if (!live.some((s) => s.id === params.sid))
        throw adminError('not_found', `user ${params.id} has no live session ${params.sid}`)
      return u.revokeSessions(ac, params.id, [params.sid])
    }),
    adminRoute(c.grantRole, async ({ caller, params, body }) => {
      const ac = who(caller)
      await admin.authority.require(ac, 'roles:grant')
      return admin.authority.grant(ac, await memberOf(admin, body.member), params.role, body.reason)
    }),
    adminRoute(c.revokeRole, async ({ caller, params }) => {
      const ac = who(caller)
      await admin.authority.require(ac, 'roles:grant')
      const [type, ...rest] = params.member.split(':')
      return admin.authority.revoke(ac, { type: type as 'user' | 'client', id: rest.join(':') }, params.role)
    }),
  ]
}

/** `user:ID` (or `user:EMAIL`) or `client:ID`, which must exist (404) before it is granted anything. */
async function memberOf(admin: AdminServices, member: string): Promise<{ type: 'user' | 'client'; id: string }> {
  const [type, ...rest] = member.split(':')
  const ref = rest.join(':')
  if (type === 'client') return { type, id: (await admin.clients.find(ref)).clientId }
  return { type: 'user', id: (await admin.users.find(ref)).id }
}

function adminClientRoutes({ admin }: AdminRouteDeps): Route[] {
  const c = adminClientContracts
  const cl = admin.clients
  const who = (caller: Caller) => adminCallerOf(caller)
  async function guarded(caller: Caller, action: AdminAction, id: string, ctx: Context) {
    await admin.authority.require(who(caller), action)
    return ctx.get('if-match') ? precondition(ctx, cl.view(await cl.find(id)).etag) : undefined
  }
  return [
    adminRoute(c.createClient, async ({ caller, body }) => {
      const r = await cl.create(who(caller), body)
      return reply(201, json(r), { ETag: r.client.etag })
    }),
    adminRoute(c.listClients, async ({ caller, query }) => json(await cl.list(who(caller), query))),
    adminRoute(c.getClient, async ({ caller, params }) => {
      const r = await cl.read(who(caller), params.id)
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.updateClient, async ({ caller, params, body }, ctx) => {
      const r = await cl.update(who(caller), params.id, body, await guarded(caller, 'clients:write', params.id, ctx))
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.deleteClient, async ({ caller, params }, ctx) => {
      await guarded(caller, 'clients:delete', params.id, ctx)
      return json(await cl.remove(who(caller), params.id))
    }),
    adminRoute(c.rotateClientSecret, async ({ caller, params }) => cl.rotateSecret(who(caller), params.id)),
  ]
}

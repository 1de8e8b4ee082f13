import { z } from 'zod'
import { defineRoute, reply, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { eventQuery } from '../audit/export.ts'
import { ACCESS_TOKEN_SIGNING_ALGS } from '../oidc/queries/resources.ts'
import { adminCallerOf } from './authority.ts'
import type { AdminServices } from './service.ts'
import { INDICATOR, resourceScopeInput } from './platform.ts'
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

const scopeView = z.object({
  name: z.string(),
  description: z.string().nullable(),
  roles: z.array(z.string()).describe('the user roles that hold this scope'),
  management: z.boolean(),
})
const resourceView = z.object({
  indicator: z.string(),
  builtIn: z.boolean().describe("portcullis's own API: listed, never changed"),
  scopes: z.array(scopeView),
  accessTokenFormat: z.enum(['jwt', 'opaque']),
  accessTokenTtl: z.number().int(),
  accessTokenSigningAlg: z.string(),
  createdAt: date.nullable(),
  updatedAt: date.nullable(),
  etag: z.string(),
})
const resourceParams = z.object({
  indicator: z
    .string()
    .min(1)
    .max(2000)
    .describe('the resource indicator, percent-encoded (https%3A%2F%2Fapi.example.com)'),
})
const resourceBody = {
  scopes: z.array(resourceScopeInput).max(500),
  accessTokenFormat: z.enum(['jwt', 'opaque']),
  accessTokenTtl: z
    .number()
    .int()
    .min(60)
    .max(86400 * 30),
  accessTokenSigningAlg: z.enum(ACCESS_TOKEN_SIGNING_ALGS),
}
const signingKey = z.object({
  kid: z.string(),
  alg: z.string(),
  status: z.enum(['active', 'retiring', 'retired']),
  createdAt: date,
  activatedAt: date.nullable(),
  retireAfter: date.nullable(),
  retiredAt: date.nullable(),
})
const apiKey = z.object({
  id: z.string(),
  owner: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  level: z.string(),
  status: z.string(),
  expires_at: date,
  created_at: date,
  created_by: z.string(),
  allowed_ips: z.array(z.string()),
  rate_limit: z.number().nullable(),
  signing: z.object({ alg: z.string() }).nullable(),
  approved_by: z.string().nullable(),
  revoked_at: date.nullable(),
  rotated_to: z.string().nullable(),
  last_used_at: date.nullable(),
  last_used_ip: z.string().nullable(),
  use_count: z.number().int(),
})
const storeName = z.object({ store: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a policy store name') })
const line = z.array(z.string().max(1000)).min(2).max(12)
const notFound = (what: string) => ({ description: `no such ${what} (error not_found)` })
const pageOf = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), nextCursor: z.string().optional() })

export const adminPlatformContracts = {
  listResources: defineRoute({
    operationId: 'adminListResources',
    method: 'get',
    path: '/admin/v1/resources',
    tags,
    auth: readAuth,
    noStore: true,
    summary:
      "API resources (RFC 8707) with their scopes and the roles that hold each, portcullis's own API first among equals; keyset-paged by indicator",
    query: z
      .object({ indicator: z.string().max(2000).optional().describe('substring of the indicator'), ...pageQuery })
      .strict(),
    responses: {
      200: { description: 'one page; nextCursor is absent on the last page', body: pageOf(resourceView) },
      403: forbidden,
    },
  }),
  createResource: defineRoute({
    operationId: 'adminCreateResource',
    method: 'post',
    path: '/admin/v1/resources',
    tags,
    auth,
    noStore: true,
    summary: 'Register an API resource; every instance picks its scopes up at once',
    body: {
      schema: z
        .object({
          indicator: INDICATOR,
          scopes: resourceBody.scopes.optional(),
          accessTokenFormat: resourceBody.accessTokenFormat.optional(),
          accessTokenTtl: resourceBody.accessTokenTtl.optional(),
          accessTokenSigningAlg: resourceBody.accessTokenSigningAlg.optional(),
        })
        .strict(),
    },
    responses: {
      201: { description: 'the resource', headers: etagHeader, body: resourceView },
      403: forbidden,
      409: { description: "it exists, or it is portcullis's own API (error invalid_state)" },
    },
  }),
  getResource: defineRoute({
    operationId: 'adminGetResource',
    method: 'get',
    path: '/admin/v1/resources/:indicator',
    tags,
    auth: readAuth,
    noStore: true,
    params: resourceParams,
    summary: 'One API resource',
    responses: {
      200: { description: 'the resource', headers: etagHeader, body: resourceView },
      403: forbidden,
      404: notFound('resource'),
    },
  }),
  updateResource: defineRoute({
    operationId: 'adminUpdateResource',
    method: 'patch',
    path: '/admin/v1/resources/:indicator',
    tags,
    auth,
    noStore: true,
    params: resourceParams,
    headers: ifMatchHeader,
    summary: 'Change scopes (replaced as a whole, with their roles), token format, lifetime or signing algorithm',
    body: {
      schema: z
        .object({
          scopes: resourceBody.scopes.optional(),
          accessTokenFormat: resourceBody.accessTokenFormat.optional(),
          accessTokenTtl: resourceBody.accessTokenTtl.optional(),
          accessTokenSigningAlg: resourceBody.accessTokenSigningAlg.optional(),
        })
        .strict(),
    },
    responses: {
      200: { description: 'the resource after the change', headers: etagHeader, body: resourceView },
      403: forbidden,
      404: notFound('resource'),
      409: { description: "portcullis's own API (error invalid_state)" },
      412: stale,
    },
  }),
  deleteResource: defineRoute({
    operationId: 'adminDeleteResource',
    method: 'delete',
    path: '/admin/v1/resources/:indicator',
    tags,
    auth,
    noStore: true,
    params: resourceParams,
    headers: ifMatchHeader,
    summary: 'Delete an API resource: tokens can no longer be asked for it; issued ones live until they expire',
    responses: {
      200: { description: 'deleted', body: z.object({ deleted: z.boolean() }) },
      403: forbidden,
      404: notFound('resource'),
      412: stale,
    },
  }),
  listSigningKeys: defineRoute({
    operationId: 'adminListSigningKeys',
    method: 'get',
    path: '/admin/v1/signing-keys',
    tags,
    auth: readAuth,
    noStore: true,
    summary: 'Token signing keys, newest first (never the private part)',
    query: z.object({ status: z.enum(['active', 'retiring', 'retired']).optional(), ...pageQuery }).strict(),
    responses: { 200: { description: 'one page', body: pageOf(signingKey) }, 403: forbidden },
  }),
  rotateSigningKeys: defineRoute({
    operationId: 'adminRotateSigningKeys',
    method: 'post',
    path: '/admin/v1/signing-keys/rotate',
    tags,
    auth,
    noStore: true,
    summary: 'A new key generation becomes the signer; the previous one stays published until what it signed expires',
    responses: {
      200: {
        description: 'the new keys',
        body: z.object({ added: z.array(z.object({ kid: z.string(), alg: z.string() })), retired: z.number().int() }),
      },
      403: forbidden,
    },
  }),
  retireSigningKey: defineRoute({
    operationId: 'adminRetireSigningKey',
    method: 'post',
    path: '/admin/v1/signing-keys/:kid/retire',
    tags,
    auth,
    noStore: true,
    params: z.object({ kid: z.string().regex(/^[\w-]{1,100}$/, 'a key id from the list') }),
    summary: 'Unpublish a retiring key now (e.g. a suspected leak): tokens it signed stop verifying',
    responses: {
      200: { description: 'retired', body: z.object({ kid: z.string(), status: z.string(), changed: z.boolean() }) },
      403: forbidden,
      404: notFound('key'),
      409: { description: 'the key is the current signer: rotate first (error invalid_state)' },
    },
  }),
  listApiKeys: defineRoute({
    operationId: 'adminListApiKeys',
    method: 'get',
    path: '/admin/v1/api-keys',
    tags,
    auth: readAuth,
    noStore: true,
    summary:
      'API keys of every owner (creation order, cursor-paged), filtered by owner, status, scope or name substring, with last use',
    query: z
      .object({
        owner: z
          .string()
          .regex(/^(user|client):.{1,320}$/, 'user:ID or client:ID')
          .optional(),
        status: z.enum(['active', 'pending_approval', 'rotated', 'expired', 'revoked']).optional(),
        scope: z.string().max(200).optional(),
        name: z.string().max(200).optional(),
        ...pageQuery,
      })
      .strict(),
    responses: { 200: { description: 'one page', body: pageOf(apiKey) }, 403: forbidden },
  }),
  getApiKey: defineRoute({
    operationId: 'adminGetApiKey',
    method: 'get',
    path: '/admin/v1/api-keys/:id',
    tags,
    auth: readAuth,
    noStore: true,
    params: z.object({ id: z.string().regex(/^[\w-]{1,100}$/, 'an API key id') }),
    summary: 'One API key (never its secret)',
    responses: { 200: { description: 'the key', body: apiKey }, 403: forbidden, 404: notFound('API key') },
  }),
  revokeApiKey: defineRoute({
    operationId: 'adminRevokeApiKey',
    method: 'post',
    path: '/admin/v1/api-keys/:id/revoke',
    tags,
    auth,
    noStore: true,
    params: z.object({ id: z.string().regex(/^[\w-]{1,100}$/, 'an API key id') }),
    summary: "Revoke any owner's API key; it stops working on every instance at once",
    body: {
      schema: z
        .object({
          reason: z
            .string()
            .max(500)
            .regex(/^[^\0]*$/, 'no NUL characters')
            .optional(),
        })
        .strict(),
      optional: true,
    },
    responses: {
      200: { description: 'the key, revoked (idempotent)', body: apiKey },
      403: forbidden,
      404: notFound('API key'),
    },
  }),
  listPolicyStores: defineRoute({
    operationId: 'adminListPolicyStores',
    method: 'get',
    path: '/admin/v1/policy-stores',
    tags,
    auth: readAuth,
    noStore: true,
    summary: "Every policy store (the console's view of /authz/v1/stores, decided by the policies:read admin action)",
    responses: {
      200: {
        description: 'the stores',
        body: z.object({
          items: z.array(
            z
              .object({
                name: z.string(),
                description: z.string().nullable(),
                version: z.number().int(),
                builtIn: z.boolean(),
              })
              .loose(),
          ),
        }),
      },
      403: forbidden,
    },
  }),
  getPolicyStore: defineRoute({
    operationId: 'adminGetPolicyStore',
    method: 'get',
    path: '/admin/v1/policy-stores/:store',
    tags,
    auth: readAuth,
    noStore: true,
    params: storeName,
    summary: 'The current version of a store (ETag "<version>")',
    responses: {
      200: { description: 'the snapshot', headers: { ETag: '"<version>"' }, body: z.record(z.string(), z.unknown()) },
      403: forbidden,
      404: notFound('store'),
    },
  }),
  listPolicyVersions: defineRoute({
    operationId: 'adminListPolicyVersions',
    method: 'get',
    path: '/admin/v1/policy-stores/:store/versions',
    tags,
    auth: readAuth,
    noStore: true,
    params: storeName,
    summary: 'Every version of a store',
    responses: {
      200: { description: 'the versions', body: z.object({ items: z.array(z.record(z.string(), z.unknown())) }) },
      403: forbidden,
      404: notFound('store'),
    },
  }),
  changePolicyStore: defineRoute({
    operationId: 'adminChangePolicyStore',
    method: 'post',
    path: '/admin/v1/policy-stores/:store/versions',
    tags,
    auth,
    noStore: true,
    params: storeName,
    headers: { 'If-Match': 'the version ("<n>") the change is based on; a stale one is a 412' },
    summary: 'Commit a new version (policy-editor); the system store changes only through role grants',
    body: {
      schema: z
        .object({
          add: z.array(line).max(10_000).optional(),
          remove: z.array(line).max(10_000).optional(),
          policy: z
            .string()
            .max(8 * 1024 * 1024)
            .optional(),
          reason: z.string().max(500).optional(),
        })
        .strict(),
    },
    responses: {
      200: {
        description: 'the version now current',
        headers: { ETag: '"<version>"' },
        body: z.object({ version: z.number().int(), changed: z.boolean() }),
      },
      403: forbidden,
      404: notFound('store'),
      412: stale,
    },
  }),
  auditEvents: defineRoute({
    operationId: 'adminAuditEvents',
    method: 'get',
    path: '/admin/v1/audit/events',
    tags,
    auth: readAuth,
    noStore: true,
    query: eventQuery,
    summary: 'Audit records for the auditor role (same filters and cursor as /audit/v1/events)',
    responses: {
      200: {
        description: 'one page',
        body: z.object({ events: z.array(z.record(z.string(), z.unknown())), next_cursor: z.string().nullable() }),
      },
      403: forbidden,
    },
  }),
  complianceReport: defineRoute({
    operationId: 'adminComplianceReport',
    method: 'get',
    path: '/admin/v1/audit/report',
    tags,
    auth: readAuth,
    noStore: true,
    query: z
      .object({
        days: z
          .string()
          .regex(/^\d{1,4}$/, 'a whole number from 1 to 3650')
          .transform(Number)
          .refine((n) => n >= 1 && n <= 3650, 'a whole number from 1 to 3650')
          .optional(),
      })
      .strict(),
    summary: 'The compliance report (with access review outcomes) for the auditor role',
    responses: { 200: { description: 'the report', body: z.record(z.string(), z.unknown()) }, 403: forbidden },
  }),
}

export function adminPlatformRoutes(admin: AdminServices): Route[] {
  const c = adminPlatformContracts
  const who = (caller: Caller) => adminCallerOf(caller)
  const r = admin.resources
  return [
    adminRoute(c.listResources, async ({ caller, query }) => json(await r.list(who(caller), query))),
    adminRoute(c.createResource, async ({ caller, body }) => {
      const v = await r.create(who(caller), body)
      return reply(201, json(v), { ETag: v.etag })
    }),
    adminRoute(c.getResource, async ({ caller, params }) => {
      const v = await r.read(who(caller), params.indicator)
      return reply(200, json(v), { ETag: v.etag })
    }),
    adminRoute(c.updateResource, async ({ caller, params, body }, ctx) => {
      await admin.authority.require(who(caller), 'resources:write')
      const v = await r.update(
        who(caller),
        params.indicator,
        body,
        ifMatchOf(ctx, (await r.find(params.indicator)).etag),
      )
      return reply(200, json(v), { ETag: v.etag })
    }),
    adminRoute(c.deleteResource, async ({ caller, params }, ctx) => {
      await admin.authority.require(who(caller), 'resources:write')
      ifMatchOf(ctx, (await r.find(params.indicator)).etag)
      return r.remove(who(caller), params.indicator)
    }),
    adminRoute(c.listSigningKeys, async ({ caller, query }) => json(await admin.keys.list(who(caller), query))),
    adminRoute(c.rotateSigningKeys, async ({ caller }) => admin.keys.rotate(who(caller))),
    adminRoute(c.retireSigningKey, async ({ caller, params }) => admin.keys.retire(who(caller), params.kid)),
    adminRoute(c.listApiKeys, async ({ caller, query }) => admin.apiKeys.list(who(caller), query)),
    adminRoute(c.getApiKey, async ({ caller, params }) => admin.apiKeys.read(who(caller), params.id)),
    adminRoute(c.revokeApiKey, async ({ caller, params, body }) =>
      admin.apiKeys.revoke(who(caller), params.id, body?.reason),
    ),
    adminRoute(c.listPolicyStores, async ({ caller }) => ({ items: json(await admin.policies.list(who(caller))) })),
    adminRoute(c.getPolicyStore, async ({ caller, params }) => {
      const s = await admin.policies.current(who(caller), params.store)
      return reply(200, json(s), { ETag: `"${s.version}"` })
    }),
    adminRoute(c.listPolicyVersions, async ({ caller, params }) => ({
      items: json(await admin.policies.versions(who(caller), params.store)),
    })),
    adminRoute(c.changePolicyStore, async ({ caller, params, body }, ctx) => {
      const ac = who(caller)
      await admin.authority.require(ac, 'policies:write')
      const current = await admin.policies.current(ac, params.store)
      const basedOn = ifMatchOf(ctx, `"${current.version}"`) ? current.version : undefined
      const out = await admin.policies.change(ac, params.store, body, basedOn)
      return reply(200, out, { ETag: `"${out.version}"` })
    }),
    adminRoute(c.auditEvents, async ({ caller }, ctx) =>
      json(await admin.oversight.events(who(caller), ctx.query as Record<string, unknown>)),
    ),
    adminRoute(c.complianceReport, async ({ caller, query }) =>
      json(await admin.oversight.report(who(caller), query.days ?? 30)),
    ),
  ]
}

import { z } from 'zod'
import { defineRoute, reply, type Route } from '../http/contract.ts'
import type { Caller } from '../http/middleware/authn.ts'
import { identityProviderFields } from '../federation/schema.ts'
import { ADMIN_READ_SCOPE, ADMIN_SCOPE, adminCallerOf } from './authority.ts'
import type { AdminServices } from './service.ts'
import {
  adminRoute,
  adminTags as tags,
  date,
  etagHeader,
  forbiddenDoc as forbidden,
  ifMatchHeader,
  ifMatchOf,
  json,
  staleDoc as stale,
} from './route-kit.ts'

// `users`: the admin console's user tokens too, decided by the PDP like any caller (routes.ts).
const auth = { scopes: [ADMIN_SCOPE], management: true, users: true } as const
const readAuth = { scopes: [ADMIN_SCOPE, ADMIN_READ_SCOPE], management: true, users: true } as const

const providerView = z.object({
  alias: z.string(),
  config: z
    .record(z.string(), z.unknown())
    .describe("the import file's `identity_providers` entry, without client_secret and private_key_jwk"),
  hasClientSecret: z.boolean(),
  hasPrivateKey: z.boolean().describe('secrets are sealed with the master key and never returned'),
  updatedAt: date,
  etag: z.string(),
})
const params = z.object({
  alias: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, _ and -, at most 64'),
})
const notFound = { description: 'no such identity provider (error not_found)' }
const invalid = {
  description:
    "a field is invalid or a field the provider's type or preset needs is missing (error invalid_request, every field listed)",
}

export const adminIdpContracts = {
  listIdps: defineRoute({
    operationId: 'adminListIdentityProviders',
    method: 'get',
    path: '/admin/v1/identity-providers',
    tags,
    auth: readAuth,
    noStore: true,
    summary: 'Upstream identity providers users may sign in with (by alias; never their secrets)',
    responses: {
      200: { description: 'every provider', body: z.object({ items: z.array(providerView) }) },
      403: forbidden,
    },
  }),
  getIdp: defineRoute({
    operationId: 'adminGetIdentityProvider',
    method: 'get',
    path: '/admin/v1/identity-providers/:alias',
    tags,
    auth: readAuth,
    noStore: true,
    params,
    summary: 'Read an identity provider (never its secrets)',
    responses: {
      200: { description: 'the provider', headers: etagHeader, body: providerView },
      403: forbidden,
      404: notFound,
    },
  }),
  createIdp: defineRoute({
    operationId: 'adminCreateIdentityProvider',
    method: 'post',
    path: '/admin/v1/identity-providers',
    tags,
    auth,
    noStore: true,
    summary:
      "Add an identity provider: the import file's `identity_providers` entry (presets google, microsoft, github, gitlab); its button appears on the sign-in page of every instance",
    body: { schema: identityProviderFields },
    responses: {
      201: { description: 'the provider', headers: etagHeader, body: providerView },
      400: invalid,
      403: forbidden,
      409: { description: 'the alias is taken (error provider_exists)' },
    },
  }),
  updateIdp: defineRoute({
    operationId: 'adminUpdateIdentityProvider',
    method: 'put',
    path: '/admin/v1/identity-providers/:alias',
    tags,
    auth,
    noStore: true,
    params,
    headers: ifMatchHeader,
    summary:
      "Replace an identity provider's entry; client_secret / private_key_jwk left out keep the stored ones; the alias cannot change",
    body: { schema: identityProviderFields.partial({ alias: true }) },
    responses: {
      200: { description: 'the provider after the change', headers: etagHeader, body: providerView },
      400: invalid,
      403: forbidden,
      404: notFound,
      412: stale,
    },
  }),
  deleteIdp: defineRoute({
    operationId: 'adminDeleteIdentityProvider',
    method: 'delete',
    path: '/admin/v1/identity-providers/:alias',
    tags,
    auth,
    noStore: true,
    params,
    headers: ifMatchHeader,
    summary: 'Delete an identity provider: its button goes; local accounts stay, their links to it are removed',
    responses: {
      200: { description: 'deleted', body: z.object({ linksRemoved: z.number().int() }) },
      403: forbidden,
      404: notFound,
      412: stale,
    },
  }),
}

export function adminIdpRoutes(admin: AdminServices): Route[] {
  const c = adminIdpContracts
  const idps = admin.identityProviders
  const who = (caller: Caller) => adminCallerOf(caller)
  return [
    adminRoute(c.listIdps, async ({ caller }) => json(await idps.list(who(caller)))),
    adminRoute(c.getIdp, async ({ caller, params: p }) => {
      const r = await idps.read(who(caller), p.alias)
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.createIdp, async ({ caller, body }) => {
      // the service validates it once more, with the rules between fields (type, preset, secrets)
      const r = await idps.create(who(caller), body)
      return reply(201, json(r), { ETag: r.etag })
    }),
    adminRoute(c.updateIdp, async ({ caller, params: p, body }, ctx) => {
      const ac = who(caller)
      // the authority first: a caller who may not act learns nothing, not even whether it exists
      await admin.authority.require(ac, 'idps:write')
      const ifMatch = ifMatchOf(ctx, idps.view(await idps.find(p.alias)).etag)
      const r = await idps.update(ac, p.alias, body, ifMatch)
      return reply(200, json(r), { ETag: r.etag })
    }),
    adminRoute(c.deleteIdp, async ({ caller, params: p }, ctx) => {
      const ac = who(caller)
      await admin.authority.require(ac, 'idps:write')
      ifMatchOf(ctx, idps.view(await idps.find(p.alias)).etag)
      return idps.remove(ac, p.alias)
    }),
  ]
}

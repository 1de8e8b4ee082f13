import type { AuditAction } from '../audit/actions.ts'
import { z } from 'zod'
import type { AdminDeps } from './deps.ts'
import { keyView } from '../apikeys/service.ts'
import { API_SCOPES, API_SCOPE_NAMES, apiIndicator, isManagementScope } from '../oidc/api-resource.ts'
import { API_SCOPE_ROLES } from '../oidc/holdings.ts'
import { ACCESS_TOKEN_SIGNING_ALGS, type ResourceRow } from '../oidc/queries/resources.ts'
import { callerLabel, SYSTEM_STORE, type AdminAuthority, type AdminCaller } from './authority.ts'
import { adminError } from './errors.ts'
import { decodeCursor, encodeCursor, etagOf, parse, PAGE_MAX } from './shared.ts'

const scopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,100}$/, 'not a valid scope token (RFC 6749 §3.3), at most 100 characters')
const ROLE = z.string().regex(/^[\w:.-]{1,64}$/, 'a role is 1-64 letters, digits, _ : . -')
export const resourceScopeInput = z
  .object({
    name: scopeToken,
    description: z
      .string()
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters')
      .optional(),
    roles: z.array(ROLE).max(50).default([]).describe('the user roles that hold this scope (none: no user holds it)'),
  })
  .strict()
export const INDICATOR = z
  .url()
  .max(2000)
  .refine((u) => !u.includes('#'), 'must not contain a fragment (RFC 8707 §2)')
const resourceFields = {
  scopes: z.array(resourceScopeInput).max(500),
  accessTokenFormat: z.enum(['jwt', 'opaque']),
  accessTokenTtl: z
    .number()
    .int()
    .min(60)
    .max(86400 * 30),
  accessTokenSigningAlg: z.enum(ACCESS_TOKEN_SIGNING_ALGS),
}
const uniqueScopes = (r: { scopes?: { name: string }[] }, ctx: z.RefinementCtx) => {
  const seen = new Set<string>()
  r.scopes?.forEach((s, i) => {
    if (seen.has(s.name))
      ctx.addIssue({ code: 'custom', path: ['scopes', i, 'name'], message: `duplicate scope ${s.name}` })
    seen.add(s.name)
  })
}
const createResource = z
  .object({
    indicator: INDICATOR,
    ...resourceFields,
    scopes: resourceFields.scopes.default([]),
    accessTokenFormat: resourceFields.accessTokenFormat.default('jwt'),
    accessTokenTtl: resourceFields.accessTokenTtl.default(3600),
    accessTokenSigningAlg: resourceFields.accessTokenSigningAlg.default('ES256'),
  })
  .strict()
  .superRefine(uniqueScopes)
const updateResource = z
  .object({
    scopes: resourceFields.scopes.optional(),
    accessTokenFormat: resourceFields.accessTokenFormat.optional(),
    accessTokenTtl: resourceFields.accessTokenTtl.optional(),
    accessTokenSigningAlg: resourceFields.accessTokenSigningAlg.optional(),
  })
  .strict()
  .superRefine(uniqueScopes)
const page = { cursor: z.string().max(2100).optional(), limit: z.number().int().min(1).max(PAGE_MAX).optional() }
const apiKeyFilter = z
  .object({
    owner: z
      .string()
      .regex(/^(user|client):.{1,320}$/, 'user:ID or client:ID')
      .optional(),
    status: z.enum(['active', 'pending_approval', 'rotated', 'expired', 'revoked']).optional(),
    scope: z.string().max(200).optional(),
    name: z.string().max(200).optional(),
    ...page,
  })
  .strict()

type ScopeView = { name: string; description: string | null; roles: string[]; management: boolean }
function resourceView(r: ResourceRow, stamps: { createdAt: Date; updatedAt: Date } | null) {
  const scopes: ScopeView[] = r.scopes.map((s) => ({
    name: s,
    description: r.scopeDetails[s]?.description ?? null,
    roles: r.scopeDetails[s]?.roles ?? [],
    management: false,
  }))
  return {
    indicator: r.indicator,
    builtIn: false,
    scopes,
    accessTokenFormat: r.accessTokenFormat,
    accessTokenTtl: r.accessTokenTtl,
    accessTokenSigningAlg: r.accessTokenSigningAlg,
    createdAt: stamps?.createdAt ?? null,
    updatedAt: stamps?.updatedAt ?? null,
    etag: etagOf([
      r.indicator,
      r.scopes,
      r.scopeDetails,
      r.accessTokenFormat,
      r.accessTokenTtl,
      r.accessTokenSigningAlg,
      stamps?.updatedAt.toISOString() ?? null,
    ]),
  }
}
export type ResourceView = ReturnType<typeof resourceView>

const keyCursor = (text: string | undefined) => decodeCursor(text)

/**
 * The rest of the admin surface (issue 12 §1): API resources and their scopes (with the roles
 * that hold each), signing keys, API keys of any owner, policy stores, audit events and the
 * compliance report — every action decided by the system store (authority.ts) and audited.
 */
export function adminPlatform(c: AdminDeps, authority: AdminAuthority) {
  return { resources: adminResources(c, authority), ...adminKeys(c, authority), ...adminPolicies(c, authority) }
}

/** A change's audit record, for `audit.with` (committed with the change, db/audited.ts). */
const record = (caller: AdminCaller, action: AuditAction, target: string, details: Record<string, unknown>) => ({
  action,
  outcome: 'success' as const,
  actor: callerLabel(caller),
  target,
  details,
})

/** The stored form of a resource's scope list: each scope's description and holding roles. */
const scopeDetails = (scopes: z.infer<typeof resourceScopeInput>[]) =>
  Object.fromEntries(
    scopes.map((s) => [
      s.name,
      { ...(s.description !== undefined ? { description: s.description } : {}), roles: [...new Set(s.roles)] },
    ]),
  )

/** Reading API resources, portcullis's own API among them. */
function resourceReads(c: AdminDeps) {
  const ownApi = apiIndicator(c.config.PUBLIC_URL)

  /** portcullis's own API: listed (its scopes and roles are fixed in code), never changed here. */
  const builtInView = (): ResourceView => ({
    indicator: ownApi,
    builtIn: true,
    scopes: API_SCOPE_NAMES.map((s) => ({
      name: s,
      description: API_SCOPES[s],
      roles: [...API_SCOPE_ROLES[s]],
      management: isManagementScope(s),
    })),
    accessTokenFormat: 'jwt',
    accessTokenTtl: c.config.ACCESS_TOKEN_TTL,
    accessTokenSigningAlg: 'ES256',
    createdAt: null,
    updatedAt: null,
    etag: etagOf([ownApi, API_SCOPE_NAMES]),
  })
  async function findResource(indicator: string) {
    if (indicator === ownApi) return builtInView()
    const r = await c.resources.find(indicator)
    if (!r) throw adminError('not_found', `no API resource ${indicator}`)
    return resourceView(r, await c.queries.resources.stamps(indicator))
  }
  const notBuiltIn = (indicator: string) => {
    if (indicator === ownApi)
      throw adminError(
        'invalid_state',
        `${ownApi} is portcullis's own API: its scopes and the roles that hold them are fixed`,
      )
  }
  /** Every resource, filtered and paged. */
  async function listResources(input: unknown) {
    const v = parse(z.object({ indicator: z.string().max(2000).optional(), ...page }).strict(), input)
    const limit = v.limit ?? 50
    // keyset on the indicator (unique, sorted): a resource created meanwhile is neither repeated nor skipped
    const after = v.cursor === undefined ? undefined : Buffer.from(v.cursor, 'base64url').toString('utf8')
    const all = [
      builtInView(),
      ...(await Promise.all(
        (await c.resources.list()).map(async (r) => resourceView(r, await c.queries.resources.stamps(r.indicator))),
      )),
    ]
      .filter((r) => !v.indicator || r.indicator.includes(v.indicator))
      .sort((a, b) => (a.indicator < b.indicator ? -1 : a.indicator > b.indicator ? 1 : 0))
      .filter((r) => after === undefined || r.indicator > after)
    const items = all.slice(0, limit)
    return {
      items,
      ...(all.length > limit ? { nextCursor: Buffer.from(items.at(-1)!.indicator).toString('base64url') } : {}),
    }
  }
  return { builtInView, findResource, notBuiltIn, listResources }
}

/** API resources and their scopes, with the roles that hold each. */
function adminResources(c: AdminDeps, authority: AdminAuthority) {
  const { findResource, notBuiltIn, listResources } = resourceReads(c)
  /** The provider's scopes and API-key holdings follow a resource change on every instance. */
  async function resourcesChanged() {
    await c.refresh()
    await c.configChanged()
  }

  const resources = {
    find: findResource,
    async list(caller: AdminCaller, input: unknown = {}) {
      await authority.require(caller, 'resources:read')
      return listResources(input)
    },
    async read(caller: AdminCaller, indicator: string) {
      await authority.require(caller, 'resources:read')
      return findResource(indicator)
    },
    async create(caller: AdminCaller, input: unknown) {
      await authority.require(caller, 'resources:write')
      const v = parse(createResource, input)
      notBuiltIn(v.indicator)
      if (await c.resources.find(v.indicator))
        throw adminError('invalid_state', `an API resource ${v.indicator} exists`)
      await c.resources.upsert(
        {
          indicator: v.indicator,
          scopes: v.scopes.map((s) => s.name),
          scopeDetails: scopeDetails(v.scopes),
          accessTokenFormat: v.accessTokenFormat,
          accessTokenTtl: v.accessTokenTtl,
          accessTokenSigningAlg: v.accessTokenSigningAlg,
        },
        c.audit.with((row) => {
          const after = resourceView(row, null)
          return record(caller, 'resource.created', v.indicator, {
            after: {
              scopes: after.scopes,
              access_token_format: after.accessTokenFormat,
              access_token_ttl: after.accessTokenTtl,
            },
          })
        }),
      )
      await resourcesChanged()
      return findResource(v.indicator)
    },
    async update(caller: AdminCaller, indicator: string, input: unknown, ifMatch?: string) {
      await authority.require(caller, 'resources:write')
      const v = parse(updateResource, input)
      notBuiltIn(indicator)
      const before = await findResource(indicator)
      if (ifMatch !== undefined && ifMatch !== before.etag)
        throw adminError(
          'precondition_failed',
          `API resource ${indicator} changed since ${ifMatch} was read (now ${before.etag})`,
        )
      const next = {
        scopes:
          v.scopes ??
          before.scopes.map((s) => ({
            name: s.name,
            ...(s.description !== null ? { description: s.description } : {}),
            roles: s.roles,
          })),
        accessTokenFormat: v.accessTokenFormat ?? before.accessTokenFormat,
        accessTokenTtl: v.accessTokenTtl ?? before.accessTokenTtl,
        accessTokenSigningAlg: v.accessTokenSigningAlg ?? before.accessTokenSigningAlg,
      }
      await c.resources.upsert(
        {
          indicator,
          scopes: next.scopes.map((s) => s.name),
          scopeDetails: scopeDetails(next.scopes),
          accessTokenFormat: next.accessTokenFormat,
          accessTokenTtl: next.accessTokenTtl,
          accessTokenSigningAlg: next.accessTokenSigningAlg,
        },
        c.audit.with((row) => {
          const after = resourceView(row, null)
          const fields = (['scopes', 'accessTokenFormat', 'accessTokenTtl', 'accessTokenSigningAlg'] as const).filter(
            (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
          )
          return fields.length
            ? record(caller, 'resource.updated', indicator, {
                before: Object.fromEntries(fields.map((k) => [k, before[k]])),
                after: Object.fromEntries(fields.map((k) => [k, after[k]])),
              })
            : null
        }),
      )
      await resourcesChanged()
      return findResource(indicator)
    },
    async remove(caller: AdminCaller, indicator: string) {
      await authority.require(caller, 'resources:write')
      notBuiltIn(indicator)
      const before = await findResource(indicator)
      await c.queries.resources.remove(
        indicator,
        c.audit.with((removed) =>
          removed ? record(caller, 'resource.deleted', indicator, { before: { scopes: before.scopes } }) : null,
        ),
      )
      await resourcesChanged()
      return { deleted: true }
    },
  }

  return resources
}

/** Token signing keys and API keys of any owner. */
function adminKeys(c: AdminDeps, authority: AdminAuthority) {
  return { keys: signingKeys(c, authority), apiKeys: adminApiKeys(c, authority) }
}

/** Token signing keys: listed, rotated, retired. */
function signingKeys(c: AdminDeps, authority: AdminAuthority) {
  const entry = record
  return {
    async list(caller: AdminCaller, input: unknown = {}) {
      await authority.require(caller, 'keys:read')
      const v = parse(
        z.object({ status: z.enum(['active', 'retiring', 'retired']).optional(), ...page }).strict(),
        input,
      )
      const limit = v.limit ?? 50
      const cursor = keyCursor(v.cursor)
      // newest first; the cursor is (createdAt, kid) of the last row
      const rows = (await c.keys.list())
        .filter((k) => !v.status || k.status === v.status)
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.kid < b.kid ? 1 : -1))
        .filter(
          (k) =>
            !cursor ||
            k.createdAt < cursor.createdAt ||
            (k.createdAt.getTime() === cursor.createdAt.getTime() && k.kid < cursor.id),
        )
      const items = rows.slice(0, limit).map((k) => ({
        kid: k.kid,
        alg: k.alg,
        status: k.status,
        createdAt: k.createdAt,
        activatedAt: k.activatedAt,
        retireAfter: k.retireAfter,
        retiredAt: k.retiredAt,
      }))
      const last = items.at(-1)
      return {
        items,
        ...(rows.length > limit && last
          ? { nextCursor: encodeCursor({ createdAt: last.createdAt, id: last.kid }) }
          : {}),
      }
    },
    /** A new generation becomes the signer; the previous one stays published while what it signed may be presented. */
    async rotate(caller: AdminCaller) {
      await authority.require(caller, 'keys:rotate')
      const ttls = (await c.resources.list()).map((r) => r.accessTokenTtl)
      const lifetime = Math.max(c.config.ACCESS_TOKEN_TTL, c.config.ID_TOKEN_TTL, ...ttls) + 300
      const before = (await c.keys.list()).filter((k) => k.status === 'active').map((k) => k.kid)
      // the new generation and its record commit together (db/audited.ts)
      const r = await c.keys.rotate(lifetime, undefined, (added) =>
        c.audit.with((retired) =>
          entry(caller, 'keys.rotated', 'signing-keys', {
            before: { active: before },
            after: { active: added.map((k) => k.kid) },
            retired,
          }),
        ),
      )
      await c.refresh()
      await c.configChanged()
      return { added: r.added, retired: r.retired }
    },
    /** Unpublishes a `retiring` key now (a suspected leak): what it signed stops verifying. */
    async retire(caller: AdminCaller, kid: string) {
      await authority.require(caller, 'keys:rotate')
      const k = (await c.keys.list()).find((x) => x.kid === kid)
      if (!k) throw adminError('not_found', `no signing key ${kid}`)
      if (k.status === 'active')
        throw adminError('invalid_state', `key ${kid} is the current signer: rotate first, then retire it`)
      if (k.status === 'retired') return { kid, status: 'retired', changed: false }
      const changed = await c.keys.retire(
        kid,
        undefined,
        c.audit.with((done) =>
          done
            ? entry(caller, 'keys.retired', `signing-key:${kid}`, {
                before: { status: k.status },
                after: { status: 'retired' },
              })
            : null,
        ),
      )
      await c.refresh()
      await c.configChanged()
      return { kid, status: 'retired', changed }
    },
  }
}

/** API keys of any owner: listed, read, revoked. */
function adminApiKeys(c: AdminDeps, authority: AdminAuthority) {
  const log = (caller: AdminCaller, action: AuditAction, target: string, details: Record<string, unknown>) =>
    c.audit.record(record(caller, action, target, details))
  return {
    async list(caller: AdminCaller, input: unknown = {}) {
      await authority.require(caller, 'apikeys:read')
      const v = parse(apiKeyFilter, input)
      const limit = v.limit ?? 50
      const cursor = decodeCursor(v.cursor)
      const [type, ...rest] = v.owner?.split(':') ?? []
      const all = (await c.apikeys.list(v.owner ? { type: type as 'user' | 'client', id: rest.join(':') } : undefined))
        .map((k) => ({ k, view: keyView(k) }))
        .filter(
          ({ k, view }) =>
            (!v.status || view.status === v.status) &&
            (!v.scope || k.scopes.includes(v.scope)) &&
            (!v.name || k.name.includes(v.name)),
        )
        .sort((a, b) => a.k.createdAt.getTime() - b.k.createdAt.getTime() || (a.k.id < b.k.id ? -1 : 1))
        .filter(
          ({ k }) =>
            !cursor ||
            k.createdAt > cursor.createdAt ||
            (k.createdAt.getTime() === cursor.createdAt.getTime() && k.id > cursor.id),
        )
      const items = all.slice(0, limit)
      const last = items.at(-1)?.k
      return {
        items: items.map((i) => i.view),
        ...(all.length > limit && last ? { nextCursor: encodeCursor({ createdAt: last.createdAt, id: last.id }) } : {}),
      }
    },
    async read(caller: AdminCaller, id: string) {
      await authority.require(caller, 'apikeys:read')
      const k = await c.apikeys.get(id)
      if (!k) throw adminError('not_found', `no API key ${id}`)
      return keyView(k)
    },
    async revoke(caller: AdminCaller, id: string, reason?: string) {
      await authority.require(caller, 'apikeys:write')
      const k = await c.apikeys.get(id)
      if (!k) throw adminError('not_found', `no API key ${id}`)
      const before = keyView(k).status
      const after = keyView(await c.apikeys.revoke(id, { label: callerLabel(caller), isAdmin: true }))
      if (before !== 'revoked')
        await log(caller, 'admin.apikey_revoked', `apikey:${id}`, {
          owner: after.owner,
          reason: reason ?? null,
          before: { status: before },
          after: { status: after.status },
        })
      return after
    },
  }
}

/** Policy stores for the policy-editor role; audit events and the compliance report for the auditor. */
function adminPolicies(c: AdminDeps, authority: AdminAuthority) {
  const policies = {
    async list(caller: AdminCaller) {
      await authority.require(caller, 'policies:read')
      return (await c.authz.stores.list()).map((s) => ({ ...s, builtIn: s.name === SYSTEM_STORE }))
    },
    async current(caller: AdminCaller, store: string) {
      await authority.require(caller, 'policies:read')
      return c.authz.stores.current(store)
    },
    async versions(caller: AdminCaller, store: string) {
      await authority.require(caller, 'policies:read')
      await c.authz.stores.current(store) // 404 for an unknown store
      return c.authz.stores.versions(store)
    },
    /** A new version; the system store is changed only through role grants (authority.ts). */
    async change(
      caller: AdminCaller,
      store: string,
      change: { add?: string[][]; remove?: string[][]; policy?: string; reason?: string },
      basedOn?: number,
    ) {
      await authority.require(caller, 'policies:write')
      return c.authz.stores.change(store, change, callerLabel(caller), change.reason, basedOn)
    },
  }

  const oversight = {
    async events(caller: AdminCaller, query: Record<string, unknown>) {
      await authority.require(caller, 'audit:read')
      return c.auditChain.query(query)
    },
    async report(caller: AdminCaller, days: number) {
      await authority.require(caller, 'report:read')
      return c.report(days)
    },
  }

  return { policies, oversight }
}
export type AdminPlatform = ReturnType<typeof adminPlatform>

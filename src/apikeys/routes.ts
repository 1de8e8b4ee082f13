import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { AppError, badRequest, notFound } from '../errors.ts'
import type { BearerScheme, Caller } from '../http/middleware/authn.ts'
import { defineRoute, mountRoutes, route, type Route } from '../http/contract.ts'
import type { ClientIp } from '../http/client-ip.ts'
import { parseIp } from '../net/ip.ts'
import { KEY_ID_PATTERN } from './format.ts'
import { LEVELS, levelRank, type Level } from './levels.ts'
import type { ApiKeyRecord } from './queries.ts'
import type { OwnerRef } from './owners.ts'
import type { Actor, SigningInput } from './issue.ts'
import { keyView, type ApiKeyService } from './service.ts'

export interface ApiKeyRouteDeps {
  service: ApiKeyService
  bearerSchemes: readonly BearerScheme[]
  clientIp: ClientIp
  /** MANAGEMENT_ALLOWED_IPS guard (middleware/management-ips.ts); everything but /verify. */
  management?: Middleware
}

const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/, 'not a valid scope token (RFC 6749 §3.3)')
const scopes = z.union([
  z.array(scopeToken).max(100),
  z
    .string()
    .max(4000)
    .transform((s) => s.split(' ').filter(Boolean))
    .pipe(z.array(scopeToken).max(100)),
])
const cidrs = z.array(z.string().min(1).max(100)).max(200)
const rateLimit = z.number().int().min(1).max(1_000_000).nullable()
const publicKey = z.union([z.string().min(1).max(8192), z.record(z.string(), z.unknown())])
const signing = z.discriminatedUnion('alg', [
  z.object({ alg: z.literal('hmac-sha256') }).strict(),
  z.object({ alg: z.literal('ed25519'), public_key: publicKey }).strict(),
])

const createBody = z
  .object({
    owner: z.string().min(1).max(400).optional(),
    name: z.string().trim().min(1).max(200),
    scopes: scopes.default([]),
    level: z.enum(LEVELS).default('MEDIUM'),
    expires_in: z
      .number()
      .int()
      .positive()
      .max(10 * 365 * 86400)
      .optional(),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    allowed_ips: cidrs.optional(),
    rate_limit: rateLimit.optional(),
    signing: signing.optional(),
  })
  .strict()
  .refine((b) => !(b.expires_in && b.expires_at), {
    message: 'give expires_in or expires_at, not both',
    path: ['expires_at'],
  })

const updateBody = z
  .object({
    name: z.string().trim().min(1).max(200).optional(),
    allowed_ips: cidrs.optional(),
    rate_limit: rateLimit.optional(),
    level: z.enum(LEVELS).optional(),
  })
  .strict()

const rotateBody = z
  .object({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86400)
      .optional(),
    public_key: publicKey.optional(),
  })
  .strict()

// RFC 7662 names the credential `token`. A key that requires signatures is verified against
// the request the resource server received: its method, URI and signature headers.
const verifyBody = z
  .object({
    token: z.string().min(1).max(1024),
    token_type_hint: z.string().max(100).optional(),
    ip: z.string().max(100).optional(),
    request: z
      .object({
        method: z.string().regex(/^[A-Za-z]{1,20}$/, 'an HTTP method'),
        target_uri: z.url(),
        headers: z.record(z.string().max(100), z.string().max(8192)),
      })
      .strict()
      .optional(),
  })
  .strict()

const isKeyAdmin = (c: Caller) => c.scopes.has('apikeys:admin') || c.scopes.has('admin')

/** The owner a caller is: a client (its access token or one of its keys) or a user. */
function selfOwner(c: Caller): OwnerRef {
  if (c.kind === 'client') return { type: 'client', id: c.clientId ?? c.id }
  if (c.kind === 'api_key' && c.clientId) return { type: 'client', id: c.clientId }
  return { type: 'user', id: c.id }
}

const sameOwner = (a: OwnerRef, k: ApiKeyRecord) => a.type === k.ownerType && a.id === k.ownerId

export function actorOf(c: Caller, ctx: Context, clientIp: ClientIp): Actor {
  return {
    label:
      c.kind === 'api_key'
        ? `apikey:${c.apiKey!.id}`
        : c.kind === 'client'
          ? `client:${c.clientId ?? c.id}`
          : `user:${c.id}`,
    isAdmin: c.scopes.has('admin'),
    ...(c.kind === 'api_key' ? { viaKey: { scopes: c.scopes, level: c.apiKey!.level as Level } } : {}),
    ip: clientIp(ctx),
    userAgent: ctx.get('user-agent') || undefined,
    requestId: ctx.state.requestId as string | undefined,
  }
}

// --- contracts --------------------------------------------------------------------------------

const manage = { scopes: ['apikeys:manage', 'apikeys:admin'], management: true } as const
const idPath = z.object({
  id: z.string().regex(KEY_ID_PATTERN, 'a key id is 16 letters and digits (the part after pcs_)'),
})
const keyJson = z.object({
  id: z.string(),
  owner: z.string().describe('user:<id> or client:<client_id>'),
  name: z.string(),
  scopes: z.array(z.string()),
  level: z.enum(LEVELS),
  status: z.string(),
  expires_at: z.iso.datetime(),
  created_at: z.iso.datetime(),
  created_by: z.string().nullable(),
  allowed_ips: z.array(z.string()),
  rate_limit: z.number().int().nullable(),
  signing: z.object({ alg: z.string() }).nullable(),
  approved_by: z.string().nullable(),
  revoked_at: z.iso.datetime().nullable(),
  rotated_to: z.string().nullable(),
  last_used_at: z.iso.datetime().nullable(),
  last_used_ip: z.string().nullable(),
  use_count: z.number().int(),
})
const secretNote = {
  key: z.string().describe('the key: shown only now'),
  signing_secret: z.string().optional().describe('hmac-sha256 keys: shown only now'),
  note: z.string(),
}
const notFoundResponse = { description: "no such key, or another owner's (never revealed)" }

export const apiKeyContracts = {
  create: defineRoute({
    operationId: 'createApiKey',
    method: 'post',
    path: '/apikeys/v1/keys',
    tags: ['API keys'],
    auth: manage,
    noStore: true,
    summary: 'Issue a key (for yourself; for another owner with apikeys:admin)',
    body: { schema: createBody },
    responses: { 201: { description: 'the key, shown once', body: keyJson.extend(secretNote) } },
  }),
  list: defineRoute({
    operationId: 'listApiKeys',
    method: 'get',
    path: '/apikeys/v1/keys',
    tags: ['API keys'],
    auth: manage,
    summary: "Your keys (any owner's, or every key, with apikeys:admin)",
    query: z.object({ owner: z.string().optional().describe('user:<id>, client:<client_id> or an email') }),
    responses: { 200: { description: 'the keys', body: z.object({ keys: z.array(keyJson) }) } },
  }),
  get: defineRoute({
    operationId: 'getApiKey',
    method: 'get',
    path: '/apikeys/v1/keys/:id',
    tags: ['API keys'],
    auth: manage,
    summary: 'One key',
    params: idPath,
    responses: { 200: { description: 'the key', body: keyJson }, 404: notFoundResponse },
  }),
  update: defineRoute({
    operationId: 'updateApiKey',
    method: 'patch',
    path: '/apikeys/v1/keys/:id',
    tags: ['API keys'],
    auth: manage,
    summary: 'Rename a key, change its IP allowlist or rate limit, raise its level',
    params: idPath,
    body: { schema: updateBody },
    responses: {
      200: { description: 'the key', body: keyJson },
      404: notFoundResponse,
      409: { description: 'a level can only be raised' },
    },
  }),
  rotate: defineRoute({
    operationId: 'rotateApiKey',
    method: 'post',
    path: '/apikeys/v1/keys/:id/rotate',
    tags: ['API keys'],
    auth: manage,
    noStore: true,
    summary: 'A new key replacing this one; the old one works for a grace period',
    params: idPath,
    body: { schema: rotateBody, optional: true },
    responses: {
      201: {
        description: 'the new key, shown once',
        body: keyJson.extend({ ...secretNote, previous: z.object({ id: z.string(), expires_at: z.iso.datetime() }) }),
      },
      404: notFoundResponse,
    },
  }),
  revoke: defineRoute({
    operationId: 'revokeApiKey',
    method: 'post',
    path: '/apikeys/v1/keys/:id/revoke',
    tags: ['API keys'],
    auth: manage,
    summary: 'Revoke a key',
    params: idPath,
    responses: { 200: { description: 'the revoked key', body: keyJson }, 404: notFoundResponse },
  }),
  delete: defineRoute({
    operationId: 'deleteApiKey',
    method: 'delete',
    path: '/apikeys/v1/keys/:id',
    tags: ['API keys'],
    auth: manage,
    summary: 'Revoke a key (same as POST …/revoke)',
    params: idPath,
    responses: { 200: { description: 'the revoked key', body: keyJson }, 404: notFoundResponse },
  }),
  approve: defineRoute({
    operationId: 'approveApiKey',
    method: 'post',
    path: '/apikeys/v1/keys/:id/approve',
    tags: ['API keys'],
    auth: { scopes: ['admin'], management: true },
    summary: 'Approve a CRITICAL key with management scopes (it works only once approved)',
    params: idPath,
    responses: { 200: { description: 'the approved key', body: keyJson }, 404: notFoundResponse },
  }),
  verify: defineRoute({
    operationId: 'verifyApiKey',
    method: 'post',
    path: '/apikeys/v1/verify',
    tags: ['API keys'],
    auth: { scopes: ['apikeys:verify', 'apikeys:admin'] },
    noStore: true,
    summary: 'Verify a key for a resource server (answers like RFC 7662 token introspection)',
    description:
      'Not behind MANAGEMENT_ALLOWED_IPS: resource servers call it. A key that requires signatures is verified against `request`.',
    body: { schema: verifyBody, form: true },
    responses: {
      200: {
        description: '`{"active": false}` for anything not usable',
        body: z.object({
          active: z.boolean(),
          sub: z.string().optional(),
          scope: z.string().optional(),
          client_id: z.string().optional(),
          exp: z.number().int().optional(),
          iat: z.number().int().optional(),
          token_type: z.literal('api_key').optional(),
          level: z.enum(LEVELS).optional(),
          key_id: z.string().optional(),
          owner_type: z.enum(['user', 'client']).optional(),
        }),
      },
      429: { description: "the key's rate limit is exhausted", headers: { 'Retry-After': 'seconds' } },
    },
  }),
}

const shownOnce = 'the key (and signing secret) are shown only now: store them'

/**
 * The key API, `/apikeys/v1` (JSON). Owners manage their own keys with scope `apikeys:manage`
 * (a client with its access token, or an existing key of the owner); `apikeys:admin` manages
 * anyone's. Keys of another owner answer 404, so callers cannot probe for them.
 */
export function apiKeyRoutes(deps: ApiKeyRouteDeps): Route[] {
  const svc = deps.service
  const c = apiKeyContracts
  const actor = (caller: Caller, ctx: Context) => actorOf(caller, ctx, deps.clientIp)

  async function owned(caller: Caller, id: string): Promise<ApiKeyRecord> {
    const k = await svc.get(id)
    if (!k || (!isKeyAdmin(caller) && !sameOwner(selfOwner(caller), k))) throw notFound('no such API key')
    return k
  }

  const revoke = async ({ caller, params }: { caller: Caller; params: { id: string } }, ctx: Context) =>
    keyView(await svc.revoke((await owned(caller, params.id)).id, actor(caller, ctx)))

  return [
    route(c.create, async ({ caller, body: b }, ctx) => {
      let owner = selfOwner(caller)
      if (b.owner) {
        const requested = await svc.owners.resolve(b.owner)
        if (!isKeyAdmin(caller) && !(requested.type === owner.type && requested.id === owner.id)) {
          throw new AppError('insufficient_scope', 'issuing keys for another owner needs the apikeys:admin scope', {
            status: 403,
          })
        }
        owner = requested
      } else if (caller.kind === 'client' && !caller.clientId) {
        throw badRequest('invalid_request', 'owner is required')
      }
      const sign: SigningInput | undefined =
        b.signing &&
        (b.signing.alg === 'ed25519' ? { alg: 'ed25519', publicKey: b.signing.public_key } : { alg: 'hmac-sha256' })
      const issued = await svc.issue(
        {
          owner,
          name: b.name,
          scopes: b.scopes,
          level: b.level,
          expiresAt: b.expires_at
            ? new Date(b.expires_at)
            : b.expires_in
              ? new Date(Date.now() + b.expires_in * 1000)
              : undefined,
          allowedIps: b.allowed_ips,
          rateLimit: b.rate_limit,
          signing: sign,
        },
        actor(caller, ctx),
      )
      return {
        ...keyView(issued.record),
        key: issued.key,
        ...(issued.signingSecret ? { signing_secret: issued.signingSecret } : {}),
        note: shownOnce,
      }
    }),

    route(c.list, async ({ caller, query }) => {
      let owner: OwnerRef | undefined = selfOwner(caller)
      if (isKeyAdmin(caller)) owner = query.owner ? await svc.owners.resolve(query.owner) : undefined
      else if (query.owner) {
        const requested = await svc.owners.resolve(query.owner)
        if (requested.type !== owner.type || requested.id !== owner.id)
          throw new AppError('insufficient_scope', "listing another owner's keys needs the apikeys:admin scope", {
            status: 403,
          })
      }
      return { keys: (await svc.list(owner)).map(keyView) }
    }),

    route(c.get, async ({ caller, params }) => keyView(await owned(caller, params.id))),

    route(c.update, async ({ caller, params, body: b }, ctx) => {
      const k = await owned(caller, params.id)
      if (b.level && levelRank(b.level) < levelRank(k.level)) {
        throw new AppError(
          'level_lowering',
          `a level can only be lowered by issuing a new key (this key is ${k.level})`,
          { status: 409 },
        )
      }
      return keyView(
        await svc.update(
          k.id,
          { name: b.name, allowedIps: b.allowed_ips, rateLimit: b.rate_limit, level: b.level },
          actor(caller, ctx),
        ),
      )
    }),

    route(c.rotate, async ({ caller, params, body: b }, ctx) => {
      const k = await owned(caller, params.id)
      const r = await svc.rotate(k.id, actor(caller, ctx), { graceSeconds: b.grace_seconds, publicKey: b.public_key })
      return {
        ...keyView(r.record),
        key: r.key,
        ...(r.signingSecret ? { signing_secret: r.signingSecret } : {}),
        previous: { id: r.previous.id, expires_at: r.previous.expiresAt.toISOString() },
        note: shownOnce,
      }
    }),

    route(c.revoke, revoke),
    route(c.delete, revoke),

    // CRITICAL keys with admin scopes work only once an administrator (scope `admin`) approves.
    route(c.approve, async ({ caller, params }, ctx) =>
      keyView(await svc.approve((await owned(caller, params.id)).id, actor(caller, ctx))),
    ),

    verifyRoute(svc),
  ]
}

/**
 * Verification for resource servers, answering like token introspection (RFC 7662):
 * `{"active": false}` for anything not usable, else `active`, `sub`, `scope`, `client_id`
 * (service-account keys), `exp`, `iat`, `token_type`, plus `level` and `key_id`.
 */
function verifyRoute(svc: ApiKeyRouteDeps['service']): Route {
  return route(apiKeyContracts.verify, async ({ body: b }, ctx) => {
    if (b.ip !== undefined && !parseIp(b.ip)) throw badRequest('invalid_request', 'ip: not an IP address')
    const headers = b.request
      ? new Map(Object.entries(b.request.headers).map(([k, v]) => [k.toLowerCase(), v]))
      : undefined
    const r = await svc.verify(b.token, {
      ip: b.ip ?? '',
      request:
        b.request && headers
          ? { method: b.request.method, targetUri: b.request.target_uri, header: (n) => headers.get(n) }
          : undefined,
    })
    if (!r.ok) {
      if (r.status === 429) {
        ctx.set('Retry-After', String(r.retryAfter ?? 60))
        throw new AppError('rate_limited', r.message, { status: 429 })
      }
      return { active: false }
    }
    const k = r.entry.record
    return {
      active: true,
      sub: k.ownerId,
      // Only what the owner still holds (issue 10 §1).
      scope: r.entry.scopes.join(' '),
      ...(k.ownerType === 'client' ? { client_id: k.ownerId } : {}),
      exp: Math.floor(k.expiresAt.getTime() / 1000),
      iat: Math.floor(k.createdAt.getTime() / 1000),
      token_type: 'api_key',
      level: k.level,
      key_id: k.id,
      owner_type: k.ownerType,
    }
  })
}

export function apiKeyRouter(deps: ApiKeyRouteDeps) {
  return mountRoutes(new Router(), apiKeyRoutes(deps), {
    bearerSchemes: deps.bearerSchemes,
    management: deps.management,
  })
}

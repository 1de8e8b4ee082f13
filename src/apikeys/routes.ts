import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { AppError, badRequest, notFound } from '../errors.ts'
import { readForm, readJson } from '../http/body.ts'
import { authenticate, callerOf, requireScope, type BearerScheme, type Caller } from '../http/middleware/authn.ts'
import { parseIp, type ClientIp } from '../http/client-ip.ts'
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
  z.string().max(4000).transform((s) => s.split(' ').filter(Boolean)).pipe(z.array(scopeToken).max(100)),
])
const cidrs = z.array(z.string().min(1).max(100)).max(200)
const rateLimit = z.number().int().min(1).max(1_000_000).nullable()
const publicKey = z.union([z.string().min(1).max(8192), z.record(z.string(), z.unknown())])
const signing = z.discriminatedUnion('alg', [
  z.object({ alg: z.literal('hmac-sha256') }).strict(),
  z.object({ alg: z.literal('ed25519'), public_key: publicKey }).strict(),
])

const createBody = z.object({
  owner: z.string().min(1).max(400).optional(),
  name: z.string().trim().min(1).max(200),
  scopes: scopes.default([]),
  level: z.enum(LEVELS).default('MEDIUM'),
  expires_in: z.number().int().positive().max(10 * 365 * 86400).optional(),
  expires_at: z.iso.datetime({ offset: true }).optional(),
  allowed_ips: cidrs.optional(),
  rate_limit: rateLimit.optional(),
  signing: signing.optional(),
}).strict().refine((b) => !(b.expires_in && b.expires_at), { message: 'give expires_in or expires_at, not both', path: ['expires_at'] })

const updateBody = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  allowed_ips: cidrs.optional(),
  rate_limit: rateLimit.optional(),
  level: z.enum(LEVELS).optional(),
}).strict()

const rotateBody = z.object({
  grace_seconds: z.number().int().min(0).max(7 * 86400).optional(),
  public_key: publicKey.optional(),
}).strict()

// RFC 7662 names the credential `token`. A key that requires signatures is verified against
// the request the resource server received: its method, URI and signature headers.
const verifyBody = z.object({
  token: z.string().min(1).max(1024),
  token_type_hint: z.string().max(100).optional(),
  ip: z.string().max(100).optional(),
  request: z.object({
    method: z.string().regex(/^[A-Za-z]{1,20}$/, 'an HTTP method'),
    target_uri: z.url(),
    headers: z.record(z.string().max(100), z.string().max(8192)),
  }).strict().optional(),
}).strict()

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value)
  if (!r.success) throw badRequest('invalid_request', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
  return r.data
}

/** JSON body that may be absent (rotate, revoke). */
async function optionalJson(ctx: Context): Promise<unknown> {
  if (!ctx.request.length && !ctx.get('transfer-encoding')) return {}
  return readJson(ctx)
}

const isKeyAdmin = (c: Caller) => c.scopes.has('apikeys:admin') || c.scopes.has('admin')

/** The owner a caller is: a client (its access token or one of its keys) or a user. */
function selfOwner(c: Caller): OwnerRef {
  if (c.kind === 'client') return { type: 'client', id: c.clientId ?? c.id }
  if (c.kind === 'api_key' && c.clientId) return { type: 'client', id: c.clientId }
  return { type: 'user', id: c.id }
}

const sameOwner = (a: OwnerRef, k: ApiKeyRecord) => a.type === k.ownerType && a.id === k.ownerId

export function actorOf(ctx: Context, clientIp: ClientIp): Actor {
  const c = callerOf(ctx)!
  return {
    label: c.kind === 'api_key' ? `apikey:${c.apiKey!.id}` : c.kind === 'client' ? `client:${c.clientId ?? c.id}` : `user:${c.id}`,
    isAdmin: c.scopes.has('admin'),
    ...(c.kind === 'api_key' ? { viaKey: { scopes: c.scopes, level: c.apiKey!.level as Level } } : {}),
    ip: clientIp(ctx),
    userAgent: ctx.get('user-agent') || undefined,
    requestId: ctx.state.requestId as string | undefined,
  }
}

const idParam = (ctx: Context) => {
  const id = ctx.params.id as string
  if (!KEY_ID_PATTERN.test(id)) throw badRequest('invalid_request', 'a key id is 16 letters and digits (the part after pcs_)')
  return id
}

/**
 * The key API, `/apikeys/v1` (JSON). Owners manage their own keys with scope `apikeys:manage`
 * (a client with its access token, or an existing key of the owner); `apikeys:admin` manages
 * anyone's. Keys of another owner answer 404, so callers cannot probe for them.
 */
export function apiKeyRouter(deps: ApiKeyRouteDeps) {
  const router = new Router({ prefix: '/apikeys/v1' })
  const svc = deps.service
  const authn = authenticate(deps.bearerSchemes)
  const manage = requireScope('apikeys:manage', 'apikeys:admin')
  const mgmt: Middleware = deps.management ?? ((_ctx, next) => next())
  const noStore = async (ctx: Context, next: () => Promise<unknown>) => {
    await next()
    ctx.set('Cache-Control', 'no-store')
  }

  async function owned(ctx: Context): Promise<ApiKeyRecord> {
    const caller = callerOf(ctx)!
    const k = await svc.get(idParam(ctx))
    if (!k || (!isKeyAdmin(caller) && !sameOwner(selfOwner(caller), k))) throw notFound('no such API key')
    return k
  }

  router.post('/keys', mgmt, noStore, authn, manage, async (ctx) => {
    const b = parse(createBody, await readJson(ctx))
    const caller = callerOf(ctx)!
    let owner = selfOwner(caller)
    if (b.owner) {
      const requested = await svc.owners.resolve(b.owner)
      if (!isKeyAdmin(caller) && !(requested.type === owner.type && requested.id === owner.id)) {
        throw new AppError('insufficient_scope', 'issuing keys for another owner needs the apikeys:admin scope', { status: 403 })
      }
      owner = requested
    } else if (caller.kind === 'client' && !caller.clientId) {
      throw badRequest('invalid_request', 'owner is required')
    }
    const sign: SigningInput | undefined = b.signing && (b.signing.alg === 'ed25519' ? { alg: 'ed25519', publicKey: b.signing.public_key } : { alg: 'hmac-sha256' })
    const issued = await svc.issue({
      owner, name: b.name, scopes: b.scopes, level: b.level,
      expiresAt: b.expires_at ? new Date(b.expires_at) : b.expires_in ? new Date(Date.now() + b.expires_in * 1000) : undefined,
      allowedIps: b.allowed_ips, rateLimit: b.rate_limit, signing: sign,
    }, actorOf(ctx, deps.clientIp))
    ctx.status = 201
    ctx.body = { ...keyView(issued.record), key: issued.key, ...(issued.signingSecret ? { signing_secret: issued.signingSecret } : {}), note: 'the key (and signing secret) are shown only now: store them' }
  })

  router.get('/keys', mgmt, authn, manage, async (ctx) => {
    const caller = callerOf(ctx)!
    const ownerParam = typeof ctx.query.owner === 'string' ? ctx.query.owner : undefined
    let owner: OwnerRef | undefined = selfOwner(caller)
    if (isKeyAdmin(caller)) owner = ownerParam ? await svc.owners.resolve(ownerParam) : undefined
    else if (ownerParam) {
      const requested = await svc.owners.resolve(ownerParam)
      if (requested.type !== owner.type || requested.id !== owner.id) throw new AppError('insufficient_scope', 'listing another owner\'s keys needs the apikeys:admin scope', { status: 403 })
    }
    ctx.body = { keys: (await svc.list(owner)).map(keyView) }
  })

  router.get('/keys/:id', mgmt, authn, manage, async (ctx) => {
    ctx.body = keyView(await owned(ctx))
  })

  router.patch('/keys/:id', mgmt, authn, manage, async (ctx) => {
    const k = await owned(ctx)
    const b = parse(updateBody, await readJson(ctx))
    if (b.level && levelRank(b.level) < levelRank(k.level)) {
      throw new AppError('level_lowering', `a level can only be lowered by issuing a new key (this key is ${k.level})`, { status: 409 })
    }
    ctx.body = keyView(await svc.update(k.id, { name: b.name, allowedIps: b.allowed_ips, rateLimit: b.rate_limit, level: b.level }, actorOf(ctx, deps.clientIp)))
  })

  router.post('/keys/:id/rotate', mgmt, noStore, authn, manage, async (ctx) => {
    const k = await owned(ctx)
    const b = parse(rotateBody, await optionalJson(ctx))
    const r = await svc.rotate(k.id, actorOf(ctx, deps.clientIp), { graceSeconds: b.grace_seconds, publicKey: b.public_key })
    ctx.status = 201
    ctx.body = {
      ...keyView(r.record), key: r.key, ...(r.signingSecret ? { signing_secret: r.signingSecret } : {}),
      previous: { id: r.previous.id, expires_at: r.previous.expiresAt.toISOString() },
      note: 'the key (and signing secret) are shown only now: store them',
    }
  })

  const revoke = async (ctx: Context) => {
    const k = await owned(ctx)
    ctx.body = keyView(await svc.revoke(k.id, actorOf(ctx, deps.clientIp)))
  }
  router.post('/keys/:id/revoke', mgmt, authn, manage, revoke)
  router.delete('/keys/:id', mgmt, authn, manage, revoke)

  // CRITICAL keys with admin scopes work only once an administrator (scope `admin`) approves.
  router.post('/keys/:id/approve', mgmt, authn, requireScope('admin'), async (ctx) => {
    const k = await owned(ctx)
    ctx.body = keyView(await svc.approve(k.id, actorOf(ctx, deps.clientIp)))
  })

  /**
   * Verification for resource servers, answering like token introspection (RFC 7662):
   * `{"active": false}` for anything not usable, else `active`, `sub`, `scope`, `client_id`
   * (service-account keys), `exp`, `iat`, `token_type`, plus `level` and `key_id`.
   */
  router.post('/verify', noStore, authn, requireScope('apikeys:verify', 'apikeys:admin'), async (ctx) => {
    const raw = ctx.is('application/x-www-form-urlencoded') ? await readForm(ctx) : await readJson(ctx)
    const b = parse(verifyBody, raw)
    if (b.ip !== undefined && !parseIp(b.ip)) throw badRequest('invalid_request', 'ip: not an IP address')
    const headers = b.request ? new Map(Object.entries(b.request.headers).map(([k, v]) => [k.toLowerCase(), v])) : undefined
    const r = await svc.verify(b.token, {
      ip: b.ip ?? '',
      request: b.request && headers ? { method: b.request.method, targetUri: b.request.target_uri, header: (n) => headers.get(n) } : undefined,
    })
    if (!r.ok) {
      if (r.status === 429) {
        ctx.set('Retry-After', String(r.retryAfter ?? 60))
        throw new AppError('rate_limited', r.message, { status: 429 })
      }
      ctx.body = { active: false }
      return
    }
    const k = r.entry.record
    ctx.body = {
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

  return router
}

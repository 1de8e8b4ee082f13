import type { Redis } from 'ioredis'
import type { Adapter, AdapterPayload } from 'oidc-provider'
import type { PayloadQueries } from './queries/payloads.ts'
import type { ClientQueries } from './queries/clients.ts'
import { effectiveClientScope } from './client-scopes.ts'
import { textProblem } from '../storable-text.ts'
import { safeEqual } from '../crypto/constant-time.ts'

// Lookup keys also arrive from inside JWTs (client assertions, request objects), which the
// edge check does not open: a key that cannot be stored cannot name a stored row, so it is
// not looked up (PostgreSQL would fail the query on a NUL).
const unstorable = (key: string) => typeof key !== 'string' || textProblem(key) !== undefined

/**
 * Storage for oidc-provider's models. Long-lived models (grants, access and refresh tokens,
 * client credentials) always live in the database; the short-lived ones below move to Redis,
 * with TTLs, when REDIS_URL is set.
 */
export const SHORT_LIVED_MODELS = new Set([
  'Session',
  'Interaction',
  'AuthorizationCode',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
])

/**
 * The models a grant-wide delete (revokeByGrantId) removes: the credentials issued under a
 * grant, exactly the models oidc-provider revokes a grant through (lib/helpers/revoke.js). An
 * Interaction also carries a grantId — the grant it may extend — but belongs to the browser's
 * pending sign-in, which may be another account's: when user B signs in where user A's session
 * is, ending A's session revokes A's grant while B's Interaction (still carrying A's grantId)
 * must survive, or B's sign-in fails with "interaction session not found". Sessions carry no
 * grantId and are ended on their own (Session.destroy).
 */
export const GRANT_BOUND_MODELS: ReadonlySet<string> = new Set([
  'AccessToken',
  'RefreshToken',
  'AuthorizationCode',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
])

const epoch = () => Math.floor(Date.now() / 1000)

export type AdapterFactory = (name: string) => Adapter

/** oidc-provider models in the database, one row per (model, id). */
export function prismaAdapter(q: PayloadQueries): AdapterFactory {
  return (model) => {
    const live = async (row: Awaited<ReturnType<PayloadQueries['find']>>): Promise<AdapterPayload | undefined> => {
      if (!row) return undefined
      if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) return undefined
      const payload = JSON.parse(row.payload) as AdapterPayload
      return row.consumedAt ? { ...payload, consumed: Math.floor(row.consumedAt.getTime() / 1000) } : payload
    }
    return {
      async upsert(id, payload, expiresIn) {
        await q.upsert({
          model,
          id,
          payload: JSON.stringify(payload),
          grantId: payload.grantId ?? null,
          userCode: payload.userCode ?? null,
          uid: payload.uid ?? null,
          expiresAt: expiresIn ? new Date(Date.now() + expiresIn * 1000) : null,
          consumedAt: null,
        })
      },
      find: async (id) => (unstorable(id) ? undefined : live(await q.find(model, id))),
      findByUid: async (uid) => (unstorable(uid) ? undefined : live(await q.findByUid(model, uid))),
      findByUserCode: async (userCode) =>
        unstorable(userCode) ? undefined : live(await q.findByUserCode(model, userCode)),
      consume: (id) => q.consume(model, id, new Date()),
      destroy: (id) => q.destroy(model, id),
      revokeByGrantId: (grantId) => q.revokeByGrantId(grantId, [...GRANT_BOUND_MODELS]),
    }
  }
}

/**
 * Adds a member to a grant index (KEYS[1]) and keeps the index alive at least as long as that
 * member: ARGV[2] is the member's TTL in ms, 0 for none (the index then never expires). PTTL is
 * read before RPUSH because afterwards a new index and one without TTL look alike (-1).
 */
const GRANT_INDEX_ADD = `
local before = redis.call('PTTL', KEYS[1])
redis.call('RPUSH', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
if ttl <= 0 then
  redis.call('PERSIST', KEYS[1])
elseif before == -2 or (before >= 0 and before < ttl) then
  redis.call('PEXPIRE', KEYS[1], ttl)
end`

/**
 * oidc-provider models in Redis: a hash per model instance (`payload`, and `consumed` once
 * consumed, so consume() is one atomic HSET), plus index keys for grantId, userCode and uid.
 * Every key carries the instance's TTL.
 */
export function redisAdapter(redis: Redis, prefix: string): AdapterFactory {
  return (model) => {
    const key = (id: string) => `${prefix}oidc:${model}:${id}`
    const grantKey = (grantId: string) => `${prefix}oidc:grant:${grantId}`
    const userCodeKey = (userCode: string) => `${prefix}oidc:${model}:userCode:${userCode}`
    const uidKey = (uid: string) => `${prefix}oidc:${model}:uid:${uid}`
    const modelOfKey = (k: string) => k.slice(`${prefix}oidc:`.length).split(':', 1)[0] ?? ''

    const read = async (k: string): Promise<AdapterPayload | undefined> => {
      const h = await redis.hgetall(k)
      if (!h.payload) return undefined
      const payload = JSON.parse(h.payload) as AdapterPayload
      return h.consumed ? { ...payload, consumed: Number(h.consumed) } : payload
    }

    return {
      async upsert(id, payload, expiresIn) {
        const k = key(id)
        const m = redis.multi().del(k).hset(k, 'payload', JSON.stringify(payload))
        if (expiresIn) m.expire(k, expiresIn)
        if (payload.grantId && GRANT_BOUND_MODELS.has(model)) {
          // The grant index lives as long as the longest member (for ever if a member has no
          // TTL); members that expired are harmless to DEL later.
          m.eval(GRANT_INDEX_ADD, 1, grantKey(payload.grantId), k, String(expiresIn ? expiresIn * 1000 : 0))
        }
        if (payload.userCode) {
          m.set(userCodeKey(payload.userCode), id)
          if (expiresIn) m.expire(userCodeKey(payload.userCode), expiresIn)
        }
        if (payload.uid) {
          m.set(uidKey(payload.uid), id)
          if (expiresIn) m.expire(uidKey(payload.uid), expiresIn)
        }
        await m.exec()
      },
      find: (id) => read(key(id)),
      // An index key can outlive its instance's uid/userCode (the instance was replaced or
      // destroyed), so only an instance that still carries the value looked up counts.
      async findByUid(uid) {
        const id = await redis.get(uidKey(uid))
        const found = id ? await read(key(id)) : undefined
        return found?.uid === uid ? found : undefined
      },
      async findByUserCode(userCode) {
        const id = await redis.get(userCodeKey(userCode))
        const found = id ? await read(key(id)) : undefined
        return found?.userCode !== undefined && safeEqual(String(found.userCode), userCode) ? found : undefined
      },
      async consume(id) {
        // HSET only when the instance still exists, so a consume never resurrects it without TTL.
        await redis.eval(
          "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'consumed', ARGV[1]) end",
          1,
          key(id),
          String(epoch()),
        )
      },
      async destroy(id) {
        await redis.del(key(id))
      },
      async revokeByGrantId(grantId) {
        const g = grantKey(grantId)
        // Only grant-bound instances: an index written by an older version may also list an
        // Interaction, which must survive (see GRANT_BOUND_MODELS).
        const members = (await redis.lrange(g, 0, -1)).filter((k) => GRANT_BOUND_MODELS.has(modelOfKey(k)))
        await redis.del(...members, g)
      },
    }
  }
}

/**
 * Routes each model: clients to their table, short-lived models to Redis when configured.
 * With Redis, one grant's instances are split across both stores (codes in Redis, tokens in
 * the database), so revokeByGrantId through any model clears the grant's credentials
 * (GRANT_BOUND_MODELS) in both.
 */
export function modelRouter(parts: {
  db: AdapterFactory
  redis?: AdapterFactory
  clients: AdapterFactory
}): AdapterFactory {
  return (name) => {
    if (name === 'Client') return parts.clients(name)
    const db = parts.db(name)
    if (!parts.redis) return db
    const redis = parts.redis(name)
    const own = SHORT_LIVED_MODELS.has(name) ? redis : db
    return {
      upsert: (id, payload, expiresIn) => own.upsert(id, payload, expiresIn),
      find: (id) => own.find(id),
      findByUid: (uid) => own.findByUid(uid),
      findByUserCode: (userCode) => own.findByUserCode(userCode),
      consume: (id) => own.consume(id),
      destroy: (id) => own.destroy(id),
      async revokeByGrantId(grantId) {
        await Promise.all([db.revokeByGrantId(grantId), redis.revokeByGrantId(grantId)])
      },
    }
  }
}

/**
 * Clients come from the clients table (written by the import file and the admin API). The
 * stored `client_secret` is the argon2id hash; see secrets.ts for how it is compared. `q.find`
 * is the in-memory cached lookup on a server (db/lookup-cache.ts): every token request reads it.
 *
 * With `writes`, dynamic client registration (RFC 7591/7592, dynamic-registration.ts) stores
 * and deletes clients through the same table: a secret arrives in clear from oidc-provider's
 * registration (or as the stored hash on an update that kept it) and is stored hashed.
 */
export function clientAdapter(q: Pick<ClientQueries, 'find'>, writes?: ClientWrites): AdapterFactory {
  const readOnly = async () => {
    throw new Error('clients are managed through portcullis, not the provider')
  }
  return () => ({
    async find(id) {
      if (unstorable(id)) return undefined
      const row = await q.find(id)
      // a contained client (admin/containment.ts) is unknown to the provider: invalid_client
      if (!row || row.disabledAt) return undefined
      // The effective scope is the client's ceiling everywhere (client-scopes.ts): without it
      // oidc-provider would let the client ask for any scope the server knows.
      const scope = effectiveClientScope(row.metadata)
      return {
        ...row.metadata,
        scope,
        client_id: row.clientId,
        ...(row.secretHash ? { client_secret: row.secretHash } : {}),
      } as AdapterPayload
    },
    upsert: writes
      ? async (id, payload) => {
          const { client_id: _id, client_secret: secret, ...metadata } = payload as Record<string, unknown>
          const existing = await q.find(id)
          const secretHash =
            typeof secret !== 'string' ? null : existing?.secretHash === secret ? secret : await writes.hash(secret)
          await writes.upsert(id, metadata, secretHash)
        }
      : readOnly,
    findByUid: async () => undefined,
    findByUserCode: async () => undefined,
    consume: readOnly,
    destroy: writes ? (id) => writes.remove(id) : readOnly,
    revokeByGrantId: async () => {},
  })
}

export interface ClientWrites {
  upsert(clientId: string, metadata: Record<string, unknown>, secretHash: string | null): Promise<void>
  remove(clientId: string): Promise<void>
  hash(secret: string): Promise<string>
}

/**
 * Keeps records of the given models `extra[model]` seconds past their own expiry. oidc-provider
 * still sees them expire on time (their payload carries `exp`); the record stays findable so a
 * late replay can be recognised, e.g. a consumed authorization code presented after it expired
 * revokes what it issued (code-redemption.ts).
 */
export function retainLonger(inner: AdapterFactory, extra: Partial<Record<string, number>>): AdapterFactory {
  return (name) => {
    const adapter = inner(name)
    const more = extra[name]
    if (!more) return adapter
    return {
      ...adapter,
      upsert: (id, payload, expiresIn) => adapter.upsert(id, payload, expiresIn ? expiresIn + more : expiresIn),
    }
  }
}

/**
 * oidc-provider revokes a grant (code or refresh token replay, logout, revocation of a refresh
 * token) through the adapters' `revokeByGrantId`. JWT access tokens are never stored, so this
 * also revokes the ones issued under the grant (revoked-tokens.ts) before the stored models go.
 */
export function revokingGrantJwts(
  inner: AdapterFactory,
  revokeGrant: (grantId: string) => Promise<void>,
): AdapterFactory {
  return (name) => {
    const adapter = inner(name)
    if (name === 'Client') return adapter
    return {
      ...adapter,
      async revokeByGrantId(grantId) {
        await revokeGrant(grantId)
        await adapter.revokeByGrantId(grantId)
      },
    }
  }
}

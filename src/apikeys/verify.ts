import type { ErrorCode } from '../errors.ts'
import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { open, type Keyring } from '../crypto/envelope.ts'
import { ipInCidrs, parseCidr, type Cidr } from '../net/ip.ts'
import type { SettingQueries } from '../db/settings.ts'
import { parseKey } from './format.ts'
import type { SecretHasher } from './hashing.ts'
import type { ApiKeyQueries, ApiKeyRecord } from './queries.ts'
import type { OwnerDirectory, OwnerInfo } from './owners.ts'
import { needsApproval } from './levels.ts'
import {
  publicKeyFromJwk,
  SignatureError,
  verifyRequestSignature,
  type SignedRequest,
  type VerificationKey,
} from './signatures.ts'
import type { NonceStore } from './replay.ts'
import { subscribeChannel, type ChannelSubscription } from '../db/redis-channel.ts'
import type { KeyRateLimiter, UsageRecorder } from './usage.ts'

/** A key as the verification path needs it: record, owner state, parsed allowlist, signing key. */
export interface KeyEntry {
  record: ApiKeyRecord
  owner: OwnerInfo
  /**
   * What the key may do now: its scopes that its owner still holds (issue 10 §1). Every caller
   * authorises by these, never by `record.scopes`; the entry is rebuilt on every instance when
   * an owner's roles or a resource's scope roles change (`ownersChanged`).
   */
  scopes: string[]
  cidrs: Cidr[]
  verificationKey?: VerificationKey
}

export type VerifyResult =
  | { ok: true; entry: KeyEntry }
  | { ok: false; code: ErrorCode; status: 401 | 403 | 429; message: string; retryAfter?: number }

export const signingContext = (id: string) => `apikey-signing:${id}`
const GENERATION = 'apikeys:generation'
/** The change message meaning "everything" (key ids never contain '*'). */
const ALL = '*'

/**
 * The per-instance cache of keys by id, and how changes reach every instance within a second:
 * - with Redis, a change publishes the key id on `<prefix>apikeys:changed` and every instance
 *   drops that entry at once (the generation poll below runs every 5 s as a safety net);
 * - without Redis, every change bumps the `apikeys:generation` setting, which each instance
 *   reads every 250 ms and clears its cache when it moved.
 * Entries also expire after `ttlMs` (60 s) so nothing stale lives long whatever happens.
 * Unknown ids are cached too (as null), so random keys with a valid checksum cannot make every
 * request a database query.
 */
export function keyCache(deps: {
  load: (id: string) => Promise<KeyEntry | null>
  settings: SettingQueries
  redis?: Redis
  prefix: string
  logger: Logger
  ttlMs?: number
  pollMs?: number
  maxEntries?: number
}) {
  const ttl = deps.ttlMs ?? 60_000
  const max = deps.maxEntries ?? 100_000
  const entries = new Map<string, { value: KeyEntry | null; at: number }>()
  const inflight = new Map<string, Promise<KeyEntry | null>>()
  const channel = `${deps.prefix}apikeys:changed`
  // undefined until the first poll; null when no change was ever made (no setting row yet)
  let generation: string | null | undefined
  let subscriber: ChannelSubscription | undefined
  let timer: NodeJS.Timeout | undefined
  let epoch = 0 // bumped on every invalidation so an in-flight load cannot store a stale value

  const drop = (id?: string) => {
    epoch++
    if (id) entries.delete(id)
    else entries.clear()
  }

  /** Drops `id` (or everything) here, and tells the other instances: Redis now, the poll soon. */
  async function announce(id: string) {
    drop(id === ALL ? undefined : id)
    const g = crypto.randomBytes(8).toString('hex')
    generation = g
    await deps.settings.set(GENERATION, g)
    await deps.redis?.publish(channel, id).catch((err) => deps.logger.warn({ err }, 'API key change publish failed'))
  }

  async function poll() {
    const g = await deps.settings.get(GENERATION)
    if (g !== generation) {
      if (generation !== undefined) drop()
      generation = g
    }
  }

  return {
    async get(id: string): Promise<KeyEntry | null> {
      const hit = entries.get(id)
      if (hit && Date.now() - hit.at < ttl) return hit.value
      let p = inflight.get(id)
      if (!p) {
        const started = epoch
        p = deps
          .load(id)
          .then((value) => {
            if (epoch === started) {
              if (entries.size >= max) entries.delete(entries.keys().next().value!)
              entries.set(id, { value, at: Date.now() })
            }
            return value
          })
          .finally(() => inflight.delete(id))
        inflight.set(id, p)
      }
      return p
    },
    /** Called after a change to key `id` on this instance: drop it here and everywhere. */
    changed: (id: string) => announce(id),
    clear: () => drop(),
    /**
     * An owner was disabled or enabled, or what owners hold changed (roles, a resource's scope
     * roles, a client's scope — by import): every instance drops its whole cache.
     */
    ownersChanged: () => announce(ALL),
    async start() {
      await poll()
      if (deps.redis) {
        subscriber = subscribeChannel({
          redis: deps.redis,
          channel,
          logger: deps.logger,
          label: 'API key changes',
          onMessage: (id) => drop(id === ALL ? undefined : id),
        })
      }
      timer = setInterval(
        () => void poll().catch((err) => deps.logger.warn({ err }, 'API key change poll failed')),
        deps.pollMs ?? (deps.redis ? 5000 : 250),
      )
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      await subscriber?.close()
    },
  }
}
export type KeyCache = ReturnType<typeof keyCache>

/** Builds a cache entry from the database: the record, its owner and its prepared keys. */
export function entryLoader(deps: { queries: ApiKeyQueries; owners: OwnerDirectory; ring: Keyring }) {
  return async (id: string): Promise<KeyEntry | null> => {
    const record = await deps.queries.find(id)
    if (!record) return null
    const owner = await deps.owners.info({ type: record.ownerType, id: record.ownerId })
    let verificationKey: VerificationKey | undefined
    if (record.signingAlg && record.signingKey) {
      verificationKey =
        record.signingAlg === 'hmac-sha256'
          ? {
              id,
              alg: 'hmac-sha256',
              key: Buffer.from(open(deps.ring, record.signingKey, signingContext(id)), 'base64url'),
            }
          : { id, alg: 'ed25519', key: publicKeyFromJwk(record.signingKey) }
    }
    const scopes = record.scopes.filter((s) => owner.scopes.has(s))
    return { record, owner, scopes, cidrs: record.allowedIps.map(parseCidr), verificationKey }
  }
}

const invalid = (message = 'the API key is invalid, expired or revoked'): VerifyResult => ({
  ok: false,
  code: 'invalid_token',
  status: 401,
  message,
})

/**
 * Verifies a presented key. The cost for a valid key is one cached lookup (plus an HMAC); a
 * malformed or mistyped key is refused by its checksum before any lookup. Then, in order:
 * secret (constant time), state (revoked, expired, owner gone, awaiting approval), IP
 * allowlist, request signature (when the key has a signing key), rate limit. Usage is
 * counted in memory.
 */
export function keyVerifier(deps: {
  cache: KeyCache
  hasher: SecretHasher
  nonces: NonceStore
  limiter: KeyRateLimiter
  usage: UsageRecorder
  maxSkew: number
  /**
   * Told about refusals of a known key id (wrong secret, revoked, expired, IP, signature): the
   * security monitor records `apikey.rejected`. Malformed keys and unknown ids are not reported,
   * so random guesses cannot flood the audit log.
   */
  onRejected?: (e: { keyId: string; reason: string; owner: string; ip: string }) => void
}) {
  return async function verify(
    presented: string,
    ctx: { ip: string; request?: SignedRequest; now?: number },
  ): Promise<VerifyResult> {
    const r = await check(presented, ctx)
    if (!r.ok && r.keyId && deps.onRejected && r.code !== 'rate_limited') {
      deps.onRejected({ keyId: r.keyId, reason: r.reason ?? r.code, owner: r.owner!, ip: ctx.ip })
    }
    return r
  }

  async function check(
    presented: string,
    ctx: { ip: string; request?: SignedRequest; now?: number },
  ): Promise<VerifyResult & { keyId?: string; owner?: string; reason?: string }> {
    const parsed = parseKey(presented)
    if (!parsed.ok)
      return invalid(
        parsed.reason === 'checksum'
          ? 'not a valid portcullis API key (checksum mismatch: mistyped or truncated?)'
          : 'not a valid portcullis API key',
      )
    const entry = await deps.cache.get(parsed.id)
    if (!entry) {
      deps.hasher.burn(parsed.secret)
      return invalid()
    }
    const k = entry.record
    const about = { keyId: k.id, owner: `${k.ownerType}:${k.ownerId}` }
    if (!deps.hasher.verify(parsed.secret, k.secretHash, k.pepperKid))
      return { ...invalid(), ...about, reason: 'invalid' }
    // From here the caller holds the real secret: precise messages help its owner.
    const now = ctx.now ?? Date.now()
    if (k.revokedAt) return { ...invalid('the API key was revoked'), ...about, reason: 'revoked' }
    if (k.expiresAt.getTime() <= now)
      return {
        ...invalid(k.rotatedTo ? 'the API key was rotated and its grace period is over' : 'the API key has expired'),
        ...about,
        reason: 'expired',
      }
    if (!entry.owner.active)
      return {
        ...invalid('the owner of this API key is disabled or no longer exists'),
        ...about,
        reason: 'owner_inactive',
      }
    if (needsApproval(k.level, k.scopes) && !k.approvedBy)
      return {
        ...invalid("the API key is waiting for an administrator's approval"),
        ...about,
        reason: 'pending_approval',
      }
    if (entry.cidrs.length && !ipInCidrs(ctx.ip, entry.cidrs)) {
      return {
        ok: false,
        code: 'ip_not_allowed',
        status: 403,
        message: `this API key may not be used from ${ctx.ip || 'an unknown address'}`,
        ...about,
      }
    }
    if (entry.verificationKey) {
      if (!ctx.request)
        return {
          ok: false,
          code: 'signature_required',
          status: 401,
          message: 'this API key requires signed requests (RFC 9421)',
          ...about,
        }
      try {
        await verifyRequestSignature(ctx.request, entry.verificationKey, {
          now,
          maxSkew: deps.maxSkew,
          nonces: deps.nonces,
        })
      } catch (e) {
        if (e instanceof SignatureError) return { ok: false, code: e.code, status: 401, message: e.message, ...about }
        throw e
      }
    }
    if (k.rateLimit) {
      const wait = await deps.limiter.consume(k.id, k.rateLimit)
      if (wait !== undefined)
        return {
          ok: false,
          code: 'rate_limited',
          status: 429,
          message: `rate limit of ${k.rateLimit} requests per minute reached for this API key`,
          retryAfter: wait,
        }
    }
    deps.usage.record(k.id, ctx.ip)
    return { ok: true, entry }
  }
}
export type KeyVerifier = ReturnType<typeof keyVerifier>

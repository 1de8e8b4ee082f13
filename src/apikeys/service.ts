import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { Keyring } from '../crypto/envelope.ts'
import type { AuditLog } from '../audit/log.ts'
import type { SettingQueries } from '../db/settings.ts'
import { secretHasher } from './hashing.ts'
import type { ApiKeyQueries, ApiKeyRecord } from './queries.ts'
import type { OwnerDirectory, OwnerRef } from './owners.ts'
import { keyCache, entryLoader, keyVerifier } from './verify.ts'
import { nonceStore } from './replay.ts'
import { keyRateLimiter, usageRecorder } from './usage.ts'
import { issueKey, type Actor, type IssueDeps, type IssueInput } from './issue.ts'
import { approveKey, revokeKey, updateKey, type KeyUpdate } from './lifecycle.ts'
import { rotateKey } from './rotate.ts'
import { expiryWatcher } from './expiry.ts'
import { needsApproval } from './levels.ts'

export interface ApiKeySettings {
  /** seconds a signature's `created` may differ from our clock (APIKEY_SIGNATURE_MAX_SKEW) */
  maxSkew: number
  /** default overlap after rotation, seconds (APIKEY_ROTATION_GRACE) */
  rotationGrace: number
  /** warn this many seconds before expiry (API_KEY_EXPIRY_WARNING_DAYS) */
  expiryWarning: number
}

/** API keys and service accounts: issue, verify, rotate, revoke (see README "API keys"). */
export function apiKeyService(deps: {
  queries: ApiKeyQueries
  owners: OwnerDirectory
  ring: Keyring
  audit: AuditLog
  settings: SettingQueries
  logger: Logger
  redis?: Redis
  redisPrefix: string
  options: ApiKeySettings
  usageFlushMs?: number
  onRejected?: (e: { keyId: string; reason: string; owner: string; ip: string }) => void
}) {
  const hasher = secretHasher(deps.ring)
  const cache = keyCache({
    load: entryLoader({ queries: deps.queries, owners: deps.owners, ring: deps.ring }),
    settings: deps.settings,
    redis: deps.redis,
    prefix: deps.redisPrefix,
    logger: deps.logger,
  })
  const usage = usageRecorder({ queries: deps.queries, logger: deps.logger, flushMs: deps.usageFlushMs })
  const nonces = nonceStore({ redis: deps.redis, prefix: deps.redisPrefix, ttlSeconds: deps.options.maxSkew * 2 })
  const limiter = keyRateLimiter({ redis: deps.redis, prefix: deps.redisPrefix })
  const issueDeps: IssueDeps = {
    queries: deps.queries,
    owners: deps.owners,
    hasher,
    ring: deps.ring,
    cache,
    audit: deps.audit,
  }
  const expiry = expiryWatcher({
    queries: deps.queries,
    audit: deps.audit,
    logger: deps.logger,
    warnSeconds: deps.options.expiryWarning,
  })

  return {
    options: deps.options,
    owners: deps.owners,
    verify: keyVerifier({
      cache,
      hasher,
      nonces,
      limiter,
      usage,
      maxSkew: deps.options.maxSkew,
      onRejected: deps.onRejected,
    }),
    issue: (input: IssueInput, actor: Actor) => issueKey(issueDeps, input, actor),
    update: (id: string, u: KeyUpdate, actor: Actor) => updateKey(issueDeps, id, u, actor),
    revoke: (id: string, actor: Actor) => revokeKey(issueDeps, id, actor),
    approve: (id: string, actor: Actor) => approveKey(issueDeps, id, actor),
    rotate: (id: string, actor: Actor, opts: { graceSeconds?: number; publicKey?: unknown } = {}) =>
      rotateKey(
        issueDeps,
        id,
        { graceSeconds: opts.graceSeconds ?? deps.options.rotationGrace, publicKey: opts.publicKey },
        actor,
      ),
    get: (id: string) => deps.queries.find(id),
    list: (owner?: OwnerRef) => deps.queries.list(owner),
    findByName: deps.queries.findByName,
    /** Expiry warnings (audit events) now; also runs hourly once started. */
    sweepExpiring: expiry.sweep,
    /** For metrics: live keys expiring within `withinSeconds` (default APIKEY_EXPIRY_WARNING). */
    countExpiringSoon: expiry.countExpiringSoon,
    flushUsage: usage.flush,
    /** Drops this instance's cache (tests, benchmarks). */
    clearCache: cache.clear,
    ownersChanged: cache.ownersChanged,
    async start() {
      await cache.start()
      usage.start()
      expiry.start()
    },
    async stop() {
      expiry.stop()
      await usage.stop()
      await cache.stop()
    },
  }
}
export type ApiKeyService = ReturnType<typeof apiKeyService>

export type KeyStatus = 'active' | 'pending_approval' | 'rotated' | 'expired' | 'revoked'

export function keyStatus(k: ApiKeyRecord, now = Date.now()): KeyStatus {
  if (k.revokedAt) return 'revoked'
  if (k.expiresAt.getTime() <= now) return 'expired'
  if (k.rotatedTo) return 'rotated'
  if (needsApproval(k.level, k.scopes) && !k.approvedBy) return 'pending_approval'
  return 'active'
}

/** The public view of a key (no secret, no hash, no signing key). */
export function keyView(k: ApiKeyRecord) {
  return {
    id: k.id,
    owner: `${k.ownerType}:${k.ownerId}`,
    name: k.name,
    scopes: k.scopes,
    level: k.level,
    status: keyStatus(k),
    expires_at: k.expiresAt.toISOString(),
    created_at: k.createdAt.toISOString(),
    created_by: k.createdBy,
    allowed_ips: k.allowedIps,
    rate_limit: k.rateLimit,
    signing: k.signingAlg ? { alg: k.signingAlg } : null,
    approved_by: k.approvedBy,
    revoked_at: k.revokedAt?.toISOString() ?? null,
    rotated_to: k.rotatedTo,
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    last_used_ip: k.lastUsedIp,
    use_count: k.useCount,
  }
}

import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { SettingQueries } from '../db/settings.ts'
import type { AuditLog } from '../audit/log.ts'
import { normalizeEmail } from './users.ts'

export interface LockoutOptions {
  /** failed attempts per account before it is locked */
  maxFailures: number
  /** seconds a locked account (or address) stays locked; also the window failures are counted in */
  lockoutSeconds: number
  /** failed attempts per client IP (across accounts) before the address is locked */
  ipMaxFailures: number
  /** base of the growing delay after a failure: base * 2^(n-1) ms, capped at 5 s */
  delayMs: number
}

export type AttemptVerdict =
  { allowed: true; failures: number } | { allowed: false; retryAfter: number; scope: 'account' | 'ip' }

const UNLOCK_MARKER = 'lockout.unlock:'

/**
 * Brute-force protection (OWASP ASVS 2.2.1): per-account and per-IP counters in
 * rate-limiter-flexible — Redis when REDIS_URL is set (shared by every instance), memory
 * otherwise. An attempt takes a point *before* the credential is evaluated, atomically, so 50
 * parallel guesses cannot all be checked: at most `maxFailures` are, the rest are refused
 * unevaluated. A success gives the points back. Unknown accounts are counted the same way as
 * real ones (the key is the typed email), so lockout says nothing about who exists.
 */
export function lockoutGuard(deps: {
  redis?: Redis
  prefix: string
  settings: SettingQueries
  audit: AuditLog
  options: LockoutOptions
}) {
  const o = deps.options
  const make = (name: string, points: number): RateLimiterAbstract => {
    const base = {
      points,
      duration: o.lockoutSeconds,
      blockDuration: o.lockoutSeconds,
      keyPrefix: `${deps.prefix}login:${name}`,
    }
    return deps.redis ? new RateLimiterRedis({ ...base, storeClient: deps.redis }) : new RateLimiterMemory(base)
  }
  const account = make('acct', o.maxFailures)
  const ip = make('ip', o.ipMaxFailures)
  const accountKey = (email: string) => normalizeEmail(email)

  async function take(limiter: RateLimiterAbstract, key: string): Promise<RateLimiterRes | number> {
    try {
      const res = await limiter.consume(key)
      return res.consumedPoints
    } catch (e) {
      if (e instanceof RateLimiterRes) return e
      throw e
    }
  }

  /** Forgets the account's failures everywhere (unlock without its audit record; a password reset records its own). */
  async function clear(email: string) {
    const key = accountKey(email)
    await account.delete(key)
    await deps.settings.set(UNLOCK_MARKER + key, new Date().toISOString())
  }

  return {
    options: o,
    /**
     * Reserves one attempt for this account and address. Refused when either is locked; the
     * first refusal of a lockout is an audit event.
     */
    async attempt(
      email: string,
      clientIp: string,
      meta: { requestId?: string; userAgent?: string | null } = {},
    ): Promise<AttemptVerdict> {
      const key = accountKey(email)
      let a = await take(account, key)
      if (a instanceof RateLimiterRes && (await deps.settings.get(UNLOCK_MARKER + key))) {
        // An administrator unlocked this account from another process (the CLI, memory mode).
        await deps.settings.set(UNLOCK_MARKER + key, '')
        await account.delete(key)
        a = await take(account, key)
      }
      if (a instanceof RateLimiterRes) {
        if (a.consumedPoints === o.maxFailures + 1) {
          void deps.audit.record({
            action: 'user.locked',
            outcome: 'info',
            target: key,
            details: { scope: 'account', seconds: o.lockoutSeconds, failures: o.maxFailures },
            ip: clientIp,
            ...meta,
          })
        }
        return { allowed: false, retryAfter: Math.max(1, Math.ceil(a.msBeforeNext / 1000)), scope: 'account' }
      }
      const i = await take(ip, clientIp)
      if (i instanceof RateLimiterRes) {
        await account.reward(key, 1).catch(() => undefined) // the account did not get this attempt
        if (i.consumedPoints === o.ipMaxFailures + 1) {
          void deps.audit.record({
            action: 'user.locked',
            outcome: 'info',
            target: clientIp,
            details: { scope: 'ip', seconds: o.lockoutSeconds, failures: o.ipMaxFailures },
            ip: clientIp,
            ...meta,
          })
        }
        return { allowed: false, retryAfter: Math.max(1, Math.ceil(i.msBeforeNext / 1000)), scope: 'ip' }
      }
      return { allowed: true, failures: a }
    },
    /** The credential was right: this account's and address's failures are forgiven. */
    async succeeded(email: string, clientIp: string) {
      await Promise.all([account.delete(accountKey(email)), ip.reward(clientIp, 1).catch(() => undefined)])
    },
    /** How many attempts are left before the account locks (after a failure). */
    async remaining(email: string) {
      const res = await account.get(accountKey(email))
      return res ? Math.max(0, o.maxFailures - res.consumedPoints) : o.maxFailures
    },
    /** The growing delay after the n-th consecutive failure (ASVS 2.2.1 "soft" throttling). */
    delayAfter(failures: number) {
      return Math.min(5000, o.delayMs * 2 ** Math.max(0, failures - 1))
    },
    /**
     * Administrator unlock: clears the counters here (and in Redis for every instance) and
     * leaves a marker so servers with in-memory counters unlock at the next attempt.
     */
    async unlock(email: string, actor: string) {
      const key = accountKey(email)
      const was = await account.get(key)
      await clear(email)
      await deps.audit.record({
        action: 'user.unlocked',
        outcome: 'success',
        actor,
        target: key,
        details: { failures: was?.consumedPoints ?? 0 },
      })
    },
    clear,
    async isLocked(email: string) {
      const res = await account.get(accountKey(email))
      return Boolean(res && res.consumedPoints > o.maxFailures)
    },
  }
}
export type LockoutGuard = ReturnType<typeof lockoutGuard>

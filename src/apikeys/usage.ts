import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { ApiKeyQueries, UsageDelta } from './queries.ts'

/**
 * Usage: last use (time, IP) and a use count per key, accumulated in memory and written in one
 * batch every `flushMs` (and at shutdown) — never a database write per request. A crash loses
 * at most one interval of counts, which is acceptable for statistics.
 */
export function usageRecorder(deps: { queries: ApiKeyQueries; logger: Logger; flushMs?: number }) {
  let pending = new Map<string, UsageDelta>()
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> | undefined

  async function flush() {
    await flushing
    if (!pending.size) return
    const batch = [...pending.values()]
    pending = new Map()
    flushing = deps.queries
      .addUsage(batch)
      .catch((err) => {
        deps.logger.warn({ err, keys: batch.length }, 'API key usage flush failed; counts kept for the next flush')
        for (const d of batch) {
          const cur = pending.get(d.id)
          if (cur) cur.count += d.count
          else pending.set(d.id, d)
        }
      })
      .finally(() => {
        flushing = undefined
      })
    await flushing
  }

  return {
    record(id: string, ip: string, at = new Date()) {
      const cur = pending.get(id)
      if (cur) {
        cur.count++
        cur.lastUsedAt = at
        cur.lastUsedIp = ip
      } else pending.set(id, { id, count: 1, lastUsedAt: at, lastUsedIp: ip })
    },
    flush,
    start() {
      timer = setInterval(() => void flush(), deps.flushMs ?? 5000)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      await flush()
    },
  }
}
export type UsageRecorder = ReturnType<typeof usageRecorder>

/**
 * Per-key rate limits (requests per minute, set on the key) with rate-limiter-flexible: in
 * Redis when REDIS_URL is set, so the limit holds across instances; in memory otherwise.
 */
export function keyRateLimiter(opts: { redis?: Redis; prefix: string }) {
  const limiters = new Map<number, RateLimiterAbstract>()
  const limiterFor = (perMinute: number) => {
    let l = limiters.get(perMinute)
    if (!l) {
      const base = { points: perMinute, duration: 60, keyPrefix: `${opts.prefix}apikeys:rl:${perMinute}` }
      l = opts.redis ? new RateLimiterRedis({ ...base, storeClient: opts.redis }) : new RateLimiterMemory(base)
      limiters.set(perMinute, l)
    }
    return l
  }
  return {
    /** undefined when allowed, else the seconds to wait (Retry-After). */
    async consume(keyId: string, perMinute: number): Promise<number | undefined> {
      try {
        await limiterFor(perMinute).consume(keyId)
        return undefined
      } catch (e) {
        if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext / 1000))
        throw e
      }
    },
  }
}
export type KeyRateLimiter = ReturnType<typeof keyRateLimiter>

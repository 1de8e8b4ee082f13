import type { Redis } from 'ioredis'

/**
 * Nonces already seen, per key, for as long as a signature with them could still be accepted
 * (`created` within ±skew, so twice the skew). In Redis with SET NX EX when REDIS_URL is set, so
 * a replay to another instance is caught too; in memory otherwise (one instance).
 */
export interface NonceStore {
  /** true the first time (key, nonce) is seen within the TTL */
  firstUse(keyId: string, nonce: string): Promise<boolean>
}

export function nonceStore(opts: {
  redis?: Redis
  prefix: string
  ttlSeconds: number
  maxEntries?: number
}): NonceStore {
  if (opts.redis) {
    const redis = opts.redis
    return {
      async firstUse(keyId, nonce) {
        return (
          (await redis.set(`${opts.prefix}apikeys:nonce:${keyId}:${nonce}`, '1', 'EX', opts.ttlSeconds, 'NX')) === 'OK'
        )
      },
    }
  }
  const seen = new Map<string, number>() // insertion order = expiry order (one TTL for all)
  const max = opts.maxEntries ?? 1_000_000
  return {
    async firstUse(keyId, nonce) {
      const now = Date.now()
      for (const [k, exp] of seen) {
        if (exp > now && seen.size < max) break
        seen.delete(k) // expired, or over capacity: the oldest go first
      }
      const k = `${keyId}:${nonce}`
      const exp = seen.get(k)
      if (exp !== undefined && exp > now) return false
      seen.set(k, now + opts.ttlSeconds * 1000)
      return true
    },
  }
}

import crypto from 'node:crypto'
import type { Redis } from 'ioredis'

/** One observation in a detector's sliding window. */
export interface Hit {
  t: number
  account: string
  ip: string
}

/**
 * The security detectors' state: sliding windows of hits and alert cooldowns. In memory it is
 * per instance; with Redis it is shared, so an attack spread over several instances behind a
 * load balancer is counted whole and alerts once for the cluster.
 */
export interface DetectorWindows {
  /** Adds `hit` to the window `key` and returns the hits of the last `windowMs`, oldest first. */
  push(key: string, hit: Hit, windowMs: number): Promise<Hit[]>
  clear(key: string): Promise<void>
  /** True for the first caller to claim `key` until `ttlMs` has passed (an alert's cooldown). */
  claim(key: string, now: number, ttlMs: number): Promise<boolean>
}

/** Most hits kept per window: enough for every threshold, bounded under a flood. */
const MAX_HITS = 5_000
const MAX_KEYS = 50_000

export function memoryWindows(): DetectorWindows {
  const windows = new Map<string, { hits: Hit[]; windowMs: number }>()
  const claims = new Map<string, number>()
  return {
    async push(key, hit, windowMs) {
      const w = windows.get(key) ?? { hits: [], windowMs }
      const since = hit.t - windowMs
      let i = 0
      while (i < w.hits.length && w.hits[i]!.t < since) i++
      w.hits = [...w.hits.slice(Math.max(i, w.hits.length + 1 - MAX_HITS)), hit]
      windows.delete(key) // re-insert: Map order is then least recently used first
      windows.set(key, w)
      if (windows.size > MAX_KEYS) {
        for (const [k, v] of windows) {
          if (windows.size <= MAX_KEYS / 2) break
          if (!v.hits.length || v.hits[v.hits.length - 1]!.t < hit.t - v.windowMs) windows.delete(k)
        }
      }
      return w.hits
    },
    async clear(key) {
      windows.delete(key)
    },
    async claim(key, now, ttlMs) {
      if ((claims.get(key) ?? 0) > now) return false
      claims.set(key, now + ttlMs)
      if (claims.size > 10_000) for (const [k, until] of claims) if (until <= now) claims.delete(k)
      return true
    },
  }
}

/**
 * Windows as Redis sorted sets scored by time (one MULTI per hit: trim, add, cap, expire,
 * read), claims as `SET NX PX`. Keys live under `<prefix>monitor:` and expire with their window.
 */
export function redisWindows(redis: Redis, prefix: string): DetectorWindows {
  const k = (key: string) => `${prefix}monitor:${key}`
  return {
    async push(key, hit, windowMs) {
      const member = JSON.stringify([hit.t, hit.account, hit.ip, crypto.randomBytes(4).toString('hex')])
      const res = await redis
        .multi()
        .zremrangebyscore(k(key), '-inf', `(${hit.t - windowMs}`)
        .zadd(k(key), hit.t, member)
        .zremrangebyrank(k(key), 0, -(MAX_HITS + 1))
        .pexpire(k(key), windowMs)
        .zrange(k(key), 0, -1)
        .exec()
      const [err, members] = res?.[4] ?? [new Error('redis transaction aborted')]
      if (err) throw err
      return (members as string[]).map((m) => {
        const [t, account, ip] = JSON.parse(m) as [number, string, string]
        return { t, account, ip }
      })
    },
    async clear(key) {
      await redis.del(k(key))
    },
    async claim(key, _now, ttlMs) {
      return (await redis.set(k(`claim:${key}`), '1', 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK'
    },
  }
}

import { Redis, type RedisOptions } from 'ioredis'

/** Bounded waits on Redis (issue 16 §3), in seconds: REDIS_CONNECT_TIMEOUT, REDIS_COMMAND_TIMEOUT. */
export interface RedisTimeouts {
  connect: number
  command: number
}

/**
 * ioredis options under which no command waits unboundedly: a command that gets no answer
 * (Redis frozen) fails after `command` seconds; while the connection is down a command waits in
 * the offline queue for one reconnect attempt at most, then fails (MaxRetriesPerRequestError).
 * Both map to a 503 (unavailable.ts). Reconnecting itself goes on in the background, with
 * ioredis's backoff capped at 2 s, so service resumes when Redis is back.
 */
export function redisOptions(t: RedisTimeouts): RedisOptions {
  return {
    connectTimeout: t.connect * 1000,
    commandTimeout: t.command * 1000,
    maxRetriesPerRequest: 1,
    // Commands sent while the first connection is still being made wait for it (bounded above)
    // rather than failing at start.
    enableOfflineQueue: true,
  }
}

export function createRedis(url: string, t: RedisTimeouts) {
  return new Redis(url, redisOptions(t))
}

import http from 'node:http'
import net from 'node:net'
import { Redis } from 'ioredis'
import Koa from 'koa'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { clientIpResolver } from '../../src/http/client-ip.ts'
import { rateLimits } from '../../src/http/rate-limits.ts'
import { createLogger } from '../../src/logger.ts'

/**
 * The rate limiter when Redis is frozen (accepts connections, never answers): requests are
 * still answered — counted in this instance's memory — instead of hanging with Redis.
 */
describe('rate limits with a Redis that does not answer', () => {
  let silent: net.Server
  let redis: Redis
  let server: http.Server
  let url: string
  const sockets = new Set<net.Socket>()

  beforeAll(async () => {
    silent = net.createServer((s) => {
      sockets.add(s)
      s.on('error', () => undefined)
    })
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    redis = new Redis(`redis://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, {
      maxRetriesPerRequest: 2,
      enableOfflineQueue: true,
      lazyConnect: false,
    })
    redis.on('error', () => undefined)
    const app = new Koa()
    app.use(
      rateLimits({
        limits: { default: { points: 2, duration: 60 } },
        redis,
        prefix: 'rl-frozen:',
        clientIp: clientIpResolver([]),
        sessionCookie: 'portcullis_sid',
        refused: { inc: () => undefined },
        logger: createLogger('silent'),
        redisWaitMs: 300,
      }),
    )
    app.use((ctx) => {
      ctx.body = 'ok'
    })
    server = http.createServer(app.callback())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  })
  afterAll(async () => {
    redis.disconnect()
    for (const s of sockets) s.destroy()
    await new Promise((r) => server.close(r))
    await new Promise((r) => silent.close(r))
  })

  it('answers within a bound, and the in-memory budget still refuses past it', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${url}/anything`, { signal: AbortSignal.timeout(15_000) })
      statuses.push(r.status)
      await r.body?.cancel()
    }
    expect(statuses).toEqual([200, 200, 429])
  }, 60_000)
})

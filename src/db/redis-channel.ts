import type { Redis } from 'ioredis'
import type { Logger } from 'pino'

/**
 * Subscribes to a Redis pub/sub channel on a dedicated connection without making Redis a start-up
 * dependency: if Redis is down the subscription is retried whenever the connection becomes ready,
 * and callers keep their database polling as the fallback. A server whose Redis is unreachable
 * must still start and answer /readyz with 503, not crash.
 */
export function subscribeChannel(deps: {
  redis: Redis
  channel: string
  logger: Logger
  label: string
  onMessage: (message: string) => void
}) {
  const subscriber = deps.redis.duplicate()
  let subscribed = false
  let closed = false
  const attempt = () => {
    if (subscribed || closed) return
    subscriber.subscribe(deps.channel).then(
      () => {
        subscribed = true
      },
      (err: Error) =>
        deps.logger.warn(
          { err: err.message, channel: deps.channel },
          `${deps.label}: subscribe failed, polling until Redis is back`,
        ),
    )
  }
  subscriber.on('error', (err: Error) => deps.logger.warn({ err: err.message }, `${deps.label}: subscriber error`))
  subscriber.on('message', (_channel: string, message: string) => deps.onMessage(message))
  // ioredis re-subscribes known channels itself after a reconnect; this covers a first subscribe
  // that never succeeded.
  subscriber.on('ready', attempt)
  attempt()
  return {
    /** Whether change notifications currently arrive (false while Redis has never been reachable). */
    get active() {
      return subscribed && subscriber.status === 'ready'
    },
    async close() {
      closed = true
      await subscriber.quit().catch(() => subscriber.disconnect())
    },
  }
}
export type ChannelSubscription = ReturnType<typeof subscribeChannel>

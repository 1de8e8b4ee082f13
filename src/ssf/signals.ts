import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { subscribeChannel, type ChannelSubscription } from '../db/redis-channel.ts'

/**
 * "A SET is waiting on stream X" for long polls (RFC 8936 §2.4): in-process, and with Redis
 * published on `<prefix>ssf:queued` so a poll waiting on another instance answers at once.
 * A lost message only delays an answer: a waiting poll looks at the queue again every few
 * seconds anyway.
 */
export function streamSignals(deps: { redis?: Redis; prefix: string; logger: Logger }) {
  const channel = `${deps.prefix}ssf:queued`
  const waiters = new Map<string, Set<() => void>>()
  let subscription: ChannelSubscription | undefined
  let released = false

  function wake(streamId: string) {
    for (const w of waiters.get(streamId) ?? []) w()
  }

  return {
    start() {
      released = false
      if (deps.redis && !subscription)
        subscription = subscribeChannel({
          redis: deps.redis,
          channel,
          logger: deps.logger,
          label: 'SSF long polling',
          onMessage: wake,
        })
    },
    /** After a commit that queued SETs for these streams. */
    announce(streamIds: string[]) {
      for (const id of streamIds) {
        wake(id)
        deps.redis
          ?.publish(channel, id)
          .catch((err: Error) => deps.logger.warn({ err: err.message }, 'SSF queued notice not published'))
      }
    },
    /**
     * Starts listening before the caller looks at the queue (so nothing queued in between is
     * missed); `wait` resolves on a notice, after `ms`, or at shutdown.
     */
    listen(streamId: string) {
      let wakeUp: () => void = () => {}
      let woken = released
      const w = () => {
        woken = true
        wakeUp()
      }
      const set = waiters.get(streamId) ?? new Set()
      waiters.set(streamId, set.add(w))
      return {
        wait: (ms: number) =>
          new Promise<void>((resolve) => {
            if (woken || released) return resolve()
            const t = setTimeout(resolve, ms)
            wakeUp = () => {
              clearTimeout(t)
              resolve()
            }
          }),
        stop() {
          set.delete(w)
          if (!set.size && waiters.get(streamId) === set) waiters.delete(streamId)
        },
      }
    },
    /** How many polls wait on the stream now. */
    held: (streamId: string) => waiters.get(streamId)?.size ?? 0,
    get released() {
      return released
    },
    /** Shutdown: every waiting poll answers now (with what it has). */
    release() {
      released = true
      for (const id of [...waiters.keys()]) wake(id)
    },
    async stop() {
      this.release()
      await subscription?.close()
      subscription = undefined
    },
  }
}
export type StreamSignals = ReturnType<typeof streamSignals>

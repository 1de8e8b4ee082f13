import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { SettingQueries } from './settings.ts'
import { subscribeChannel, type ChannelSubscription } from './redis-channel.ts'

/**
 * "Something changed, reload it" between processes that share a database: the writer stores a
 * new generation under `key` in the settings table and publishes it on the Redis `channel`;
 * every instance (including one started later, or one that missed the message) notices either
 * the message or the new generation at its next poll, and runs `onChange` once per change.
 * The same scheme as the API-key and policy-store change notices: Redis makes it immediate,
 * the poll (sub-second without Redis; a slow safety net with it) makes it certain. The writer
 * may be another process entirely (`portcullis import` while servers run).
 */
export function changeNotice(deps: {
  settings: SettingQueries
  key: string
  redis?: Redis
  channel: string
  logger: Logger
  label: string
  onChange: () => Promise<unknown>
  pollMs?: number
}) {
  let seen: string | null | undefined
  let subscriber: ChannelSubscription | undefined
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let pending = false

  /** Runs onChange; a change noticed while it runs gets one more run after it. */
  function fire() {
    if (running) {
      pending = true
      return
    }
    running = (async () => {
      do {
        pending = false
        await deps.onChange().catch((err: unknown) => deps.logger.warn({ err }, `${deps.label}: reload failed`))
      } while (pending)
    })().finally(() => {
      running = undefined
    })
  }

  function notice(generation: string | null) {
    if (generation === seen) return
    const first = seen === undefined
    seen = generation
    if (!first) fire()
  }

  async function poll() {
    notice(await deps.settings.get(deps.key))
  }

  return {
    /** Tells every instance (this one has applied the change itself). */
    async announce() {
      const generation = crypto.randomBytes(8).toString('hex')
      seen = generation
      await deps.settings.set(deps.key, generation)
      await deps.redis
        ?.publish(deps.channel, generation)
        .catch((err) => deps.logger.warn({ err }, `${deps.label}: publish failed`))
    },
    async start() {
      await poll()
      if (deps.redis) {
        subscriber = subscribeChannel({
          redis: deps.redis,
          channel: deps.channel,
          logger: deps.logger,
          label: deps.label,
          onMessage: (g) => notice(g),
        })
      }
      timer = setInterval(
        () => void poll().catch((err) => deps.logger.warn({ err }, `${deps.label}: poll failed`)),
        deps.pollMs ?? (deps.redis ? 5000 : 250),
      )
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      await subscriber?.close()
      await running
    },
  }
}
export type ChangeNotice = ReturnType<typeof changeNotice>

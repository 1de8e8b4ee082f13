import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import type { PolicyQueries } from './queries.ts'
import type { DecisionEngine, EnginePort } from './port.ts'
import type { PolicyLine } from './policy-csv.ts'
import type { StoreOptions } from './options.ts'
import { requestShape, type RequestShape } from './model-info.ts'
import { subscribeChannel, type ChannelSubscription } from '../db/redis-channel.ts'

export interface LoadedStore {
  name: string
  version: number
  engine: DecisionEngine
  shape: RequestShape
  options: StoreOptions
}

/**
 * Every instance holds every store's current version in memory, so a decision never touches
 * the database. A commit on any instance reaches the others within a second: published on
 * Redis (`<prefix>authz:changed`) when REDIS_URL is set, and noticed by polling the stores'
 * version numbers otherwise (and, with Redis, as a slower safety net for lost messages).
 */
export function policyRegistry(deps: {
  queries: PolicyQueries
  engine: EnginePort
  logger: Logger
  redis?: Redis
  redisPrefix: string
  pollMs?: number
}) {
  const loaded = new Map<string, LoadedStore>()
  const channel = `${deps.redisPrefix}authz:changed`
  let subscriber: ChannelSubscription | undefined
  let timer: NodeJS.Timeout | undefined
  let syncing: Promise<void> | undefined
  const listeners = new Set<(s: LoadedStore) => void>()

  async function load(name: string, version: number) {
    const row = await deps.queries.findVersion(name, version)
    if (!row) return
    const options = JSON.parse(row.options) as StoreOptions
    const lines = JSON.parse(row.policy) as PolicyLine[]
    const engine = await deps.engine.build({ modelText: row.model, lines, options })
    const current = loaded.get(name)
    // Two loads may race (poll + pub/sub); never go back to an older version.
    if (current && current.version >= version) return
    const entry = { name, version, engine, shape: requestShape(row.model, lines), options }
    loaded.set(name, entry)
    for (const l of listeners) l(entry)
    deps.logger.info({ store: name, version, evaluation: engine.mode }, 'policy store loaded')
  }

  /** Brings every store up to its committed version; one sync at a time. */
  function sync(): Promise<void> {
    syncing ??= (async () => {
      try {
        const versions = await deps.queries.versions()
        for (const [name, version] of versions) {
          if ((loaded.get(name)?.version ?? -1) < version) {
            await load(name, version).catch((err) =>
              deps.logger.error({ err, store: name }, 'policy store failed to load'),
            )
          }
        }
        for (const name of loaded.keys()) if (!versions.has(name)) loaded.delete(name)
      } finally {
        syncing = undefined
      }
    })()
    return syncing
  }

  return {
    get: (name: string) => loaded.get(name),
    names: () => [...loaded.keys()],
    sync,
    onLoad(fn: (s: LoadedStore) => void) {
      listeners.add(fn)
    },
    /** Called after a commit on this instance: load it here, and tell the others. */
    async committed(name: string, version: number) {
      await load(name, version)
      await deps.redis
        ?.publish(channel, JSON.stringify({ name, version }))
        .catch((err) => deps.logger.warn({ err }, 'policy change publish failed'))
    },
    async start() {
      await sync()
      if (deps.redis) {
        subscriber = subscribeChannel({
          redis: deps.redis,
          channel,
          logger: deps.logger,
          label: 'policy changes',
          onMessage: () => void sync().catch(() => {}),
        })
      }
      const every = deps.pollMs ?? (deps.redis ? 10_000 : 500)
      timer = setInterval(() => void sync().catch((err) => deps.logger.warn({ err }, 'policy sync failed')), every)
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      await subscriber?.close()
      await syncing?.catch(() => {})
    },
  }
}
export type PolicyRegistry = ReturnType<typeof policyRegistry>

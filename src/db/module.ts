import type { Config } from '../config/env.ts'
import type { Logger } from '../logger.ts'
import type { FeatureModule } from '../module.ts'
import { createDb, pingDb } from './client.ts'
import { createRedis } from './redis.ts'
import { settingQueries } from './settings.ts'

type StorageConfig = Pick<
  Config,
  | 'DATABASE_URL'
  | 'DB_CONNECT_TIMEOUT'
  | 'DB_QUERY_TIMEOUT'
  | 'REDIS_URL'
  | 'REDIS_CONNECT_TIMEOUT'
  | 'REDIS_COMMAND_TIMEOUT'
>

/**
 * Storage, first in start order: the database, Redis when REDIS_URL is set, the settings table,
 * and the readiness checks of both. It stops last, after every feature has flushed.
 */
export async function storageModule(deps: { config: Readonly<StorageConfig>; logger: Logger }) {
  const { config, logger } = deps
  // Every query and Redis command is bounded (issue 16 §3); see db/client.ts and db/redis.ts.
  const db = await createDb(config.DATABASE_URL, {
    connect: config.DB_CONNECT_TIMEOUT,
    query: config.DB_QUERY_TIMEOUT,
  })
  const redis = config.REDIS_URL
    ? createRedis(config.REDIS_URL, { connect: config.REDIS_CONNECT_TIMEOUT, command: config.REDIS_COMMAND_TIMEOUT })
    : undefined
  redis?.on('error', (err) => logger.warn({ err: err.message }, 'redis error'))
  return {
    db,
    redis,
    settings: settingQueries(db),
    readiness: {
      database: () => pingDb(db),
      ...(redis
        ? {
            redis: async () => {
              await redis.ping()
            },
          }
        : {}),
    },
    async stop() {
      await redis?.quit().catch(() => redis.disconnect())
      await db.$disconnect()
    },
  } satisfies FeatureModule
}

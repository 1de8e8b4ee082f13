import type { Config } from '../config/env.ts'
import { migrate } from '../db/migrate.ts'
import { createContainer, type Container } from '../container.ts'
import { createLogger } from '../logger.ts'

/** Runs a command against a migrated database with the full service container, then closes it. */
export async function withContainer<T>(config: Readonly<Config>, fn: (c: Container) => Promise<T>): Promise<T> {
  await migrate(config.DATABASE_URL)
  const c = await createContainer(config, {
    logger: createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL),
  })
  try {
    return await fn(c)
  } finally {
    await c.close()
  }
}

import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { loadConfig } from '../../src/config/env.ts'
import { createContainer, type Container } from '../../src/container.ts'
import { createLogger } from '../../src/logger.ts'
import { createTestDatabase, type TestDatabase } from '../../src/db/testing.ts'

/** A container (services + provider, no HTTP) on a fresh database. */
export async function testContainer(
  kind: 'sqlite' | 'postgresql' = 'sqlite',
  env: Record<string, string> = {},
): Promise<{ c: Container; db: TestDatabase; dispose(): Promise<void> }> {
  const db = await createTestDatabase(kind)
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-data-'))
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
    ...env,
  })
  const c = await createContainer(config, { logger: createLogger('silent') })
  return {
    c,
    db,
    async dispose() {
      await c.close()
      await db.drop()
      await fs.rm(dataDir, { recursive: true, force: true })
    },
  }
}

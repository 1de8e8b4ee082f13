import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { migrate } from './migrate.ts'

/**
 * Test databases: a fresh SQLite file, or (when TEST_DATABASE_URL is set) a uniquely named
 * PostgreSQL database created on that server and dropped afterwards.
 */
export interface TestDatabase {
  kind: 'sqlite' | 'postgresql'
  url: string
  drop(): Promise<void>
}

export const pgTestUrl = () => process.env.TEST_DATABASE_URL || undefined
export const redisTestUrl = () => process.env.TEST_REDIS_URL || undefined

export async function createTestDatabase(kind: 'sqlite' | 'postgresql' = 'sqlite'): Promise<TestDatabase> {
  const suffix = `${Date.now().toString(36)}_${crypto.randomBytes(4).toString('hex')}`
  if (kind === 'sqlite') {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-test-'))
    const url = `file:${path.join(dir, 'test.db')}`
    await migrate(url)
    return { kind, url, drop: () => fs.rm(dir, { recursive: true, force: true }) }
  }
  const admin = pgTestUrl()
  if (!admin) throw new Error('TEST_DATABASE_URL is not set')
  const name = `portcullis_test_${suffix}`
  const { default: pg } = await import('pg')
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin })
    await c.connect()
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }
  await run(`CREATE DATABASE "${name}"`)
  const u = new URL(admin)
  u.pathname = `/${name}`
  const url = u.toString()
  await migrate(url)
  return { kind, url, drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
}

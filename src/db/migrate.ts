import fs from 'node:fs/promises'
import path from 'node:path'
import crypto from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { isPostgres } from './client.ts'

/**
 * Applies committed prisma/migrations/<name>/migration.sql files in order, keeping Prisma's own
 * `_prisma_migrations` bookkeeping (same DDL, sha256 checksums) so a user who has the native
 * Prisma CLI can still run `prisma migrate status` on the same database. Prisma's CLI cannot
 * run here (it downloads a native engine), hence this small runner.
 *
 * On PostgreSQL the whole run holds Prisma's advisory lock (72707369), so instances that start
 * together apply each migration once and the others wait, then see nothing pending.
 */
const SQLITE_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
);`
const PG_DDL = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
);`
const PRISMA_ADVISORY_LOCK = 72707369

interface MigrationRow {
  migration_name: string
  finished_at: unknown
  rolled_back_at: unknown
}
interface Driver {
  provider: 'sqlite' | 'postgresql'
  init(): Promise<void>
  rows(): Promise<MigrationRow[]>
  begin(id: string, name: string, checksum: string): Promise<void>
  exec(sql: string): Promise<void>
  finish(id: string): Promise<void>
  fail(id: string, logs: string): Promise<void>
  close(): Promise<void>
}

async function sqliteDriver(url: string): Promise<Driver> {
  const { default: Database } = await import('better-sqlite3')
  const file = url.replace(/^file:/, '')
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true })
  const db = new Database(file)
  const now = () => new Date().toISOString().replace('Z', '+00:00')
  return {
    provider: 'sqlite',
    async init() {
      db.pragma('busy_timeout = 5000')
      db.pragma('journal_mode = WAL')
      db.exec(SQLITE_DDL)
    },
    async rows() {
      return db.prepare('SELECT * FROM "_prisma_migrations" ORDER BY started_at').all() as MigrationRow[]
    },
    async begin(id, name, checksum) {
      db.prepare(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES (?, ?, ?, ?, 0)',
      ).run(id, checksum, name, now())
    },
    // As Prisma does on SQLite: the script runs unwrapped (PRAGMA foreign_keys must work).
    async exec(sql) {
      db.exec(sql)
    },
    async finish(id) {
      db.prepare('UPDATE "_prisma_migrations" SET finished_at = ?, applied_steps_count = 1 WHERE id = ?').run(now(), id)
    },
    async fail(id, logs) {
      db.prepare('UPDATE "_prisma_migrations" SET logs = ? WHERE id = ?').run(logs, id)
    },
    async close() {
      db.close()
    },
  }
}

async function pgDriver(url: string): Promise<Driver> {
  const { default: pg } = await import('pg')
  // Bounded connect (issue 16 §3); statements are not: a migration may legitimately run long,
  // and waiting for the advisory lock means another instance is migrating.
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 })
  await c.connect()
  return {
    provider: 'postgresql',
    async init() {
      await c.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK])
      await c.query(PG_DDL)
    },
    async rows() {
      return (await c.query('SELECT * FROM "_prisma_migrations" ORDER BY started_at')).rows
    },
    async begin(id, name, checksum) {
      await c.query(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
        [id, checksum, name],
      )
    },
    // simple-query protocol: the whole script is one implicit transaction
    async exec(sql) {
      await c.query(sql)
    },
    async finish(id) {
      await c.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id])
    },
    async fail(id, logs) {
      await c.query('UPDATE "_prisma_migrations" SET logs = $1 WHERE id = $2', [logs, id])
    },
    async close() {
      await c.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK]).catch(() => {})
      await c.end()
    },
  }
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export function migrationsDirFor(url: string) {
  return path.join(root, isPostgres(url) ? 'prisma/postgresql/migrations' : 'prisma/migrations')
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(url: string, log: (msg: string) => void = () => {}): Promise<string[]> {
  const migrationsDir = migrationsDirFor(url)
  const d = isPostgres(url) ? await pgDriver(url) : await sqliteDriver(url)
  try {
    await d.init()
    const rows = await d.rows()
    const failed = rows.filter((r) => r.finished_at == null && r.rolled_back_at == null)
    if (failed.length) {
      throw new Error(
        `the database has failed migrations: ${failed.map((r) => r.migration_name).join(', ')} (inspect and resolve them before starting)`,
      )
    }
    const done = new Set(
      rows.filter((r) => r.finished_at != null && r.rolled_back_at == null).map((r) => r.migration_name),
    )
    const dirs = (await fs.readdir(migrationsDir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort()
    const applied: string[] = []
    for (const name of dirs) {
      if (done.has(name)) continue
      const script = await fs.readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8')
      const id = crypto.randomUUID()
      await d.begin(id, name, crypto.createHash('sha256').update(script).digest('hex'))
      try {
        await d.exec(script)
      } catch (e) {
        await d.fail(id, String((e as Error)?.stack ?? e))
        throw new Error(`migration ${name} failed: ${(e as Error).message}`)
      }
      await d.finish(id)
      applied.push(name)
      log(`applied migration ${name}`)
    }
    return applied
  } finally {
    await d.close()
  }
}

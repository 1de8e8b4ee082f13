import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/db/migrate.ts'
import { createTestDatabase, pgTestUrl, type TestDatabase } from '../../src/db/testing.ts'

const pgUrl = pgTestUrl()
if (!pgUrl) console.warn('PostgreSQL migration suites skipped: TEST_DATABASE_URL not set')

const root = path.resolve(import.meta.dirname, '../..')
const sqliteMigrations = path.join(root, 'prisma/migrations')
const pgMigrations = path.join(root, 'prisma/postgresql/migrations')

const migrationNames = async (dir: string) =>
  (await fs.readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()
const migrationSql = (dir: string, name: string) => fs.readFile(path.join(dir, name, 'migration.sql'), 'utf8')

/** What a schema looks like, engine-neutral: enough to tell the two engines apart if they drift. */
interface Column {
  type: string
  nullable: boolean
}
interface Table {
  columns: Record<string, Column>
  primaryKey: string[]
}
interface Index {
  table: string
  unique: boolean
  columns: string[]
}
interface Shape {
  tables: Record<string, Table>
  indexes: Record<string, Index>
}

/** Prisma's scalar types, as each engine names them in its migrations. */
function typeFamily(raw: string): string {
  const t = raw
    .toLowerCase()
    .replace(/\(.*\)$/, '')
    .trim()
  const families: Record<string, string> = {
    text: 'String',
    'character varying': 'String',
    varchar: 'String',
    integer: 'Int',
    int: 'Int',
    bigint: 'BigInt',
    boolean: 'Boolean',
    datetime: 'DateTime',
    'timestamp without time zone': 'DateTime',
    'timestamp with time zone': 'DateTime',
    timestamp: 'DateTime',
    real: 'Float',
    'double precision': 'Float',
    decimal: 'Decimal',
    numeric: 'Decimal',
    blob: 'Bytes',
    bytea: 'Bytes',
    jsonb: 'Json',
    json: 'Json',
  }
  return families[t] ?? `unknown:${t}`
}

function sqliteShape(db: Database.Database): Shape {
  const shape: Shape = { tables: {}, indexes: {} }
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all() as { name: string }[]
  for (const { name } of tables) {
    const cols = db.prepare(`PRAGMA table_info("${name}")`).all() as {
      name: string
      type: string
      notnull: number
      pk: number
    }[]
    shape.tables[name] = {
      // in SQLite only an INTEGER PRIMARY KEY is implicitly NOT NULL; Prisma spells it out anyway
      columns: Object.fromEntries(
        cols.map((c) => [c.name, { type: typeFamily(c.type), nullable: c.notnull === 0 && c.pk === 0 }]),
      ),
      primaryKey: cols
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => c.name),
    }
    const indexes = db.prepare(`PRAGMA index_list("${name}")`).all() as {
      name: string
      unique: number
      origin: string
    }[]
    for (const ix of indexes.filter((i) => i.origin === 'c')) {
      const cols = db.prepare(`PRAGMA index_info("${ix.name}")`).all() as { seqno: number; name: string }[]
      shape.indexes[ix.name] = {
        table: name,
        unique: ix.unique === 1,
        columns: cols.sort((a, b) => a.seqno - b.seqno).map((c) => c.name),
      }
    }
  }
  return shape
}

async function pgShape(c: pg.Client): Promise<Shape> {
  const shape: Shape = { tables: {}, indexes: {} }
  const cols = await c.query<{ table_name: string; column_name: string; data_type: string; is_nullable: string }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
      WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  )
  for (const r of cols.rows) {
    const t = (shape.tables[r.table_name] ??= { columns: {}, primaryKey: [] })
    t.columns[r.column_name] = { type: typeFamily(r.data_type), nullable: r.is_nullable === 'YES' }
  }
  const idx = await c.query<{ index: string; table: string; unique: boolean; primary: boolean; columns: string[] }>(
    `SELECT i.relname AS index, t.relname AS table, x.indisunique AS unique, x.indisprimary AS primary,
            array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n)
                  JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n)::text[] AS columns
       FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
      WHERE t.relnamespace = current_schema()::regnamespace`,
  )
  for (const r of idx.rows) {
    if (r.primary) shape.tables[r.table]!.primaryKey = r.columns
    else shape.indexes[r.index] = { table: r.table, unique: r.unique, columns: r.columns }
  }
  return shape
}

/** A fresh, empty PostgreSQL database of our own on the TEST_DATABASE_URL server. */
async function createEmptyPgDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = new URL(pgUrl as string)
  admin.pathname = '/postgres'
  const name = `pc_mig_${crypto.randomBytes(6).toString('hex')}`
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: admin.toString() })
    await c.connect()
    try {
      await c.query(sql)
    } finally {
      await c.end()
    }
  }
  await run(`CREATE DATABASE "${name}"`)
  const u = new URL(pgUrl as string)
  u.pathname = `/${name}`
  return { url: u.toString(), drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    return await fn(c)
  } finally {
    await c.end()
  }
}

describe('SQLite and PostgreSQL schemas stay in step', () => {
  it('prisma/postgresql/schema.prisma is what gen-pg-schema.mjs makes of prisma/schema.prisma', async () => {
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-genpg-'))
    try {
      await fs.mkdir(path.join(tmp, 'prisma'))
      await fs.copyFile(path.join(root, 'prisma/schema.prisma'), path.join(tmp, 'prisma/schema.prisma'))
      await promisify(execFile)(process.execPath, [path.join(root, 'scripts/gen-pg-schema.mjs')], { cwd: tmp })
      const generated = await fs.readFile(path.join(tmp, 'prisma/postgresql/schema.prisma'), 'utf8')
      const committed = await fs.readFile(path.join(root, 'prisma/postgresql/schema.prisma'), 'utf8')
      expect(generated).toContain('provider = "postgresql"')
      expect(committed, 'run `node scripts/gen-pg-schema.mjs` (npm run db:generate)').toBe(generated)
    } finally {
      await fs.rm(tmp, { recursive: true, force: true })
    }
  })

  it('both engines have the same migration folders, each with a migration.sql', async () => {
    const sqlite = await migrationNames(sqliteMigrations)
    expect(sqlite.length).toBeGreaterThan(0)
    expect(await migrationNames(pgMigrations)).toEqual(sqlite)
    for (const name of sqlite) {
      expect((await migrationSql(sqliteMigrations, name)).length, name).toBeGreaterThan(0)
      expect((await migrationSql(pgMigrations, name)).length, name).toBeGreaterThan(0)
    }
    expect(await fs.readFile(path.join(sqliteMigrations, 'migration_lock.toml'), 'utf8')).toMatch(/provider = "sqlite"/)
    expect(await fs.readFile(path.join(pgMigrations, 'migration_lock.toml'), 'utf8')).toMatch(/provider = "postgresql"/)
  })

  describe.skipIf(!pgUrl)('applied schemas (PostgreSQL)', () => {
    let sqliteDb: TestDatabase
    let pgDb: TestDatabase
    beforeAll(async () => {
      ;[sqliteDb, pgDb] = await Promise.all([createTestDatabase('sqlite'), createTestDatabase('postgresql')])
    })
    afterAll(async () => {
      await sqliteDb?.drop()
      await pgDb?.drop()
    })

    it('migrated test databases have the same tables, columns, keys and indexes', async () => {
      const file = new Database(sqliteDb.url.replace(/^file:/, ''), { readonly: true })
      let sqlite: Shape
      try {
        sqlite = sqliteShape(file)
      } finally {
        file.close()
      }
      const postgres = await withPg(pgDb.url, pgShape)

      expect(Object.keys(sqlite.tables)).toContain('OidcPayload')
      expect(Object.keys(sqlite.tables)).toContain('_prisma_migrations')
      expect(Object.keys(postgres.tables).sort()).toEqual(Object.keys(sqlite.tables).sort())
      // _prisma_migrations is Prisma's own table, with engine-specific DDL (see migrate.ts)
      const { _prisma_migrations: _a, ...sqliteTables } = sqlite.tables
      const { _prisma_migrations: _b, ...pgTables } = postgres.tables
      expect(pgTables).toEqual(sqliteTables)
      expect(postgres.indexes).toEqual(sqlite.indexes)
      for (const [table, t] of Object.entries(sqliteTables)) {
        for (const [column, c] of Object.entries(t.columns))
          expect(c.type, `${table}.${column}`).not.toMatch(/^unknown:/)
      }
    })

    it('each migration, applied in order, leaves both engines with the same schema', async () => {
      const names = await migrationNames(sqliteMigrations)
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-mig-steps-'))
      const file = new Database(path.join(dir, 'steps.db'))
      const pgEmpty = await createEmptyPgDatabase()
      try {
        await withPg(pgEmpty.url, async (c) => {
          for (const name of names) {
            file.exec(await migrationSql(sqliteMigrations, name))
            await c.query(await migrationSql(pgMigrations, name))
            const [s, p] = [sqliteShape(file), await pgShape(c)]
            expect(Object.keys(s.tables).length, name).toBeGreaterThan(0)
            expect(p, `after ${name}`).toEqual(s)
          }
        })
      } finally {
        file.close()
        await pgEmpty.drop()
        await fs.rm(dir, { recursive: true, force: true })
      }
    })
  })
})

interface MigrationRow {
  id: string
  migration_name: string
  checksum: string
  finished_at: Date | null
  rolled_back_at: Date | null
  applied_steps_count: number
  logs: string | null
}
const migrationRows = (url: string) =>
  withPg(
    url,
    async (c) => (await c.query<MigrationRow>('SELECT * FROM "_prisma_migrations" ORDER BY migration_name')).rows,
  )
const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex')

describe.skipIf(!pgUrl)('migrate() on PostgreSQL', () => {
  it('applies every migration once, records it, and is a no-op the second time', async () => {
    const names = await migrationNames(pgMigrations)
    const db = await createEmptyPgDatabase()
    try {
      const logged: string[] = []
      expect(await migrate(db.url, (m) => logged.push(m))).toEqual(names)
      expect(logged).toEqual(names.map((n) => `applied migration ${n}`))

      const rows = await migrationRows(db.url)
      expect(rows.map((r) => r.migration_name)).toEqual(names)
      for (const r of rows) {
        expect(r.finished_at, r.migration_name).toBeInstanceOf(Date)
        expect(r.rolled_back_at).toBeNull()
        expect(r.applied_steps_count).toBe(1)
        expect(r.checksum).toBe(sha256(await migrationSql(pgMigrations, r.migration_name)))
      }
      const tables = await withPg(
        db.url,
        async (c) =>
          (
            await c.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'OidcPayload'",
            )
          ).rows[0]!.n,
      )
      expect(tables).toBe(1)

      expect(await migrate(db.url)).toEqual([])
      const again = await migrationRows(db.url)
      expect(again).toEqual(rows)
    } finally {
      await db.drop()
    }
  })

  it('four concurrent migrate() calls on a fresh database apply each migration exactly once', async () => {
    const names = await migrationNames(pgMigrations)
    const db = await createEmptyPgDatabase()
    try {
      // allSettled: every run has finished (and let go of its connection) before we look or drop
      const settled = await Promise.allSettled([1, 2, 3, 4].map(() => migrate(db.url)))
      expect(settled.filter((s) => s.status === 'rejected')).toEqual([])
      const results = settled.map((s) => (s as PromiseFulfilledResult<string[]>).value)
      // all four succeeded; together they applied each migration exactly once
      expect(results.flat().sort()).toEqual(names)
      expect(results.filter((r) => r.length > 0)).toHaveLength(1)

      const rows = await migrationRows(db.url)
      expect(rows.map((r) => r.migration_name)).toEqual(names)
      expect(
        rows.every((r) => r.finished_at instanceof Date && r.rolled_back_at === null && r.applied_steps_count === 1),
      ).toBe(true)
      // and no lock is left behind: a later run gets through at once and finds nothing to do
      expect(await migrate(db.url)).toEqual([])
      const locks = await withPg(
        db.url,
        async (c) =>
          (
            await c.query<{ n: number }>(
              "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            )
          ).rows[0]!.n,
      )
      expect(locks).toBe(0)
    } finally {
      await db.drop()
    }
  })
})

import { PrismaClient as SqliteClient } from '../generated/sqlite/client.ts'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'

// The queries modules are typed against the SQLite client: it is the smaller API (no
// mode:'insensitive', no PostgreSQL-only types), so code that compiles against it runs on both.
export type Db = SqliteClient
export type { Prisma } from '../generated/sqlite/client.ts'

export function isPostgres(url: string) {
  return /^postgres(ql)?:\/\//.test(url)
}

export async function createDb(url: string): Promise<Db> {
  if (isPostgres(url)) {
    const [{ PrismaClient }, { PrismaPg }] = await Promise.all([
      import('../generated/postgresql/client.ts'),
      import('@prisma/adapter-pg'),
    ])
    // The two generated clients are not assignable to each other in TypeScript: one cast, here only.
    return new PrismaClient({ adapter: new PrismaPg({ connectionString: url }) }) as unknown as Db
  }
  const db = new SqliteClient({ adapter: new PrismaBetterSqlite3({ url }) })
  // WAL lets readers proceed while one writer commits; busy_timeout makes concurrent writers
  // (CLI + server on one file) wait instead of failing with SQLITE_BUSY.
  await db.$queryRawUnsafe('PRAGMA journal_mode = WAL')
  await db.$queryRawUnsafe('PRAGMA busy_timeout = 5000')
  return db
}

/** Is the database answering? Used by /readyz. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRawUnsafe('SELECT 1')
}

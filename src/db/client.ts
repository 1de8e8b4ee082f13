import { PrismaClient as SqliteClient } from '../generated/sqlite/client.ts'
import { PrismaBetterSqlite3 } from '@prisma/adapter-better-sqlite3'
import pg from 'pg'

// The queries modules are typed against the SQLite client: it is the smaller API (no
// mode:'insensitive', no PostgreSQL-only types), so code that compiles against it runs on both.
export type Db = SqliteClient
export type { Prisma } from '../generated/sqlite/client.ts'

export function isPostgres(url: string) {
  return /^postgres(ql)?:\/\//.test(url)
}

/** Bounded waits (issue 16 §3), in seconds: DB_CONNECT_TIMEOUT and DB_QUERY_TIMEOUT. */
export interface DbTimeouts {
  connect: number
  query: number
}
export const DEFAULT_DB_TIMEOUTS: DbTimeouts = { connect: 5, query: 10 }

/**
 * node-postgres pool options that bound every wait on PostgreSQL: opening a connection
 * (connectionTimeoutMillis), a statement the server runs too long (statement_timeout, cancelled
 * server-side) and a server that stops answering altogether (query_timeout, client-side: a
 * frozen server never cancels anything itself). A timed-out connection is discarded by the pool.
 */
export function pgPoolOptions(url: string, t: DbTimeouts = DEFAULT_DB_TIMEOUTS) {
  return {
    // the cast: @prisma/adapter-pg types the option against its own copy of @types/pg
    Client: TimeoutSafeClient as never,
    connectionString: url,
    connectionTimeoutMillis: t.connect * 1000,
    statement_timeout: t.query * 1000,
    query_timeout: t.query * 1000,
    // Notice a peer that vanished without closing the connection (a host that died).
    keepAlive: true,
  }
}

/**
 * A node-postgres client that is closed when a query of it times out client-side. node-postgres
 * only stops waiting: the statement stays on the wire, and a connection inside a transaction
 * (Prisma's interactive transactions) would go back to the pool still inside it once the
 * server answers, its ROLLBACK dropped by the same timeout, so the next caller's writes would
 * land in that abandoned transaction and never commit. Closing the connection makes the server
 * roll the transaction back and the pool replace the connection.
 */
class TimeoutSafeClient extends pg.Client {
  override query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown)(...args)
    if (result instanceof Promise) {
      result.catch((err: unknown) => {
        if ((err as Error)?.message === 'Query read timeout') void this.end().catch(() => {})
      })
    }
    return result as never
  }
}

/** What Prisma's SQLite adapter uses of a better-sqlite3 statement. */
interface SqliteStatement {
  reader: boolean
  run(args?: unknown[]): unknown
  columns(): unknown[]
  raw(on: boolean): { all(args: unknown[]): unknown[] }
}

/**
 * Prisma's SQLite adapter compiles every statement anew on every query (`prepare(sql).bind(args)`,
 * and a better-sqlite3 statement can be bound only once). On the hot paths that compile was a
 * large share of each query's CPU (issue 16 §1: "statements prepared once and reused"). This
 * keeps one compiled statement per SQL text on the adapter's connection (Prisma's SQL is
 * parameterised, so the set is small; bounded anyway) and hands the adapter a fresh binding per
 * use that passes the arguments at execution instead. Statements run synchronously to the end
 * (run/all), so one statement is never in use twice at a time. SQLite recompiles a statement by
 * itself when the schema changed under it.
 */
export function reusePreparedStatements(db: { prepare(sql: string): SqliteStatement }, max = 500) {
  const prepare = db.prepare.bind(db)
  const cache = new Map<string, SqliteStatement>()
  db.prepare = (sql: string) => {
    let stmt = cache.get(sql)
    if (!stmt) {
      stmt = prepare(sql)
      if (cache.size >= max) cache.delete(cache.keys().next().value!)
      cache.set(sql, stmt)
    }
    const s = stmt
    const bound = (args: unknown[]) => ({
      reader: s.reader,
      run: () => s.run(args),
      columns: () => s.columns(),
      raw: () => ({ all: () => s.raw(true).all(args) }),
    })
    return {
      reader: s.reader,
      run: () => s.run([]),
      columns: () => s.columns(),
      raw: () => ({ all: () => s.raw(true).all([]) }),
      bind: bound,
    } as unknown as SqliteStatement
  }
}

class StatementReusingSqlite extends PrismaBetterSqlite3 {
  override async connect() {
    const adapter = await super.connect()
    reusePreparedStatements((adapter as unknown as { client: { prepare(sql: string): SqliteStatement } }).client)
    return adapter
  }
}

export async function createDb(url: string, timeouts: DbTimeouts = DEFAULT_DB_TIMEOUTS): Promise<Db> {
  if (isPostgres(url)) {
    const [{ PrismaClient }, { PrismaPg }] = await Promise.all([
      import('../generated/postgresql/client.ts'),
      import('@prisma/adapter-pg'),
    ])
    // The two generated clients are not assignable to each other in TypeScript: one cast, here only.
    return new PrismaClient({ adapter: new PrismaPg(pgPoolOptions(url, timeouts)) }) as unknown as Db
  }
  // busy_timeout: concurrent writers (CLI + server on one file) wait for the lock instead of
  // failing at once with SQLITE_BUSY (which then maps to a 503, see unavailable.ts). better-sqlite3
  // waits synchronously, blocking every other request meanwhile: never longer than 5 s.
  const busyMs = Math.min(timeouts.query, 5) * 1000
  const db = new SqliteClient({ adapter: new StatementReusingSqlite({ url, timeout: busyMs }) })
  // WAL lets readers proceed while one writer commits.
  await db.$queryRawUnsafe('PRAGMA journal_mode = WAL')
  await db.$queryRawUnsafe(`PRAGMA busy_timeout = ${busyMs}`)
  return db
}

/** Is the database answering? Used by /readyz. */
export async function pingDb(db: Db): Promise<void> {
  await db.$queryRawUnsafe('SELECT 1')
}

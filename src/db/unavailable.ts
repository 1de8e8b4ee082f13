import { AppError } from '../errors.ts'

/**
 * One failure for "a dependency is down or frozen" (issue 16 §3): the database or Redis refused
 * the connection, dropped it, or did not answer within DB_QUERY_TIMEOUT / REDIS_COMMAND_TIMEOUT.
 * Callers get 503 with Retry-After instead of a 500 or a hang; the error middleware and the
 * oidc-provider hook (oidc/unavailable.ts) both use isDependencyUnavailable.
 *
 * The errors are recognised by shape, not by class, because they come from four libraries
 * (Prisma, its pg and better-sqlite3 adapters, node-postgres, ioredis) and only src/db and the
 * queries modules may import Prisma.
 */
export const RETRY_AFTER_SECONDS = 5

export const DEPENDENCY_UNAVAILABLE = 'dependency_unavailable'

export function dependencyUnavailable(cause?: unknown) {
  return new AppError(DEPENDENCY_UNAVAILABLE, 'a service portcullis depends on is unavailable; try again shortly', {
    status: 503,
    expose: true,
    cause,
  })
}

// Prisma: P1001 can't reach the server, P1002 reached but timed out, P1008 operation timed out
// (SQLite: SQLITE_BUSY past busy_timeout), P1017 server closed the connection, P2024 timed out
// waiting for a pooled connection, P2028 transaction could not start/finish in time.
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2028'])
// Socket errors from node-postgres and ioredis.
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
])
// PostgreSQL SQLSTATEs: class 08 connection exceptions, 53300 too many connections,
// 57014 statement_timeout, 57P01-57P03 shutting down / crashed / starting up.
const PG_STATES = /^(08...|53300|57014|57P0[123])$/
// Driver adapter error kinds (@prisma/driver-adapter-utils).
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections'])
// Messages of errors that carry no code: node-postgres (query_timeout, connectionTimeoutMillis,
// a dropped connection) and ioredis (commandTimeout, no connection and no offline queue).
const MESSAGES = [
  /^Query read timeout$/,
  /^Connection terminated/,
  /^timeout exceeded when trying to connect$/,
  /^Client has encountered a connection error and is not queryable$/,
  /^Command timed out$/,
  /^Connection is closed\.?$/,
  /^Stream isn't writeable/,
]

interface ErrorShape {
  name?: unknown
  code?: unknown
  kind?: unknown
  originalCode?: unknown
  message?: unknown
  cause?: unknown
  meta?: { driverAdapterError?: unknown }
}

function matches(e: ErrorShape): boolean {
  if (e.name === 'MaxRetriesPerRequestError') return true // ioredis: Redis unreachable
  if (typeof e.code === 'string' && (PRISMA_CODES.has(e.code) || SOCKET_CODES.has(e.code) || PG_STATES.test(e.code)))
    return true
  if (typeof e.kind === 'string' && ADAPTER_KINDS.has(e.kind)) return true
  if (e.kind === 'postgres' && typeof e.originalCode === 'string' && PG_STATES.test(e.originalCode)) return true
  return typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))
}

/** Whether `err` (or what it wraps) means the database or Redis is down or not answering. */
export function isDependencyUnavailable(err: unknown): boolean {
  if (err instanceof AppError) return err.code === DEPENDENCY_UNAVAILABLE
  const seen = new Set<unknown>()
  const queue: unknown[] = [err]
  while (queue.length && seen.size < 8) {
    const e = queue.shift()
    if (!e || typeof e !== 'object' || seen.has(e)) continue
    seen.add(e)
    const shape = e as ErrorShape
    if (matches(shape)) return true
    // Prisma keeps the adapter's error in meta.driverAdapterError, whose `cause` is the
    // {kind, ...} record; AggregateError (several addresses refused) keeps them in `errors`.
    queue.push(shape.cause, shape.meta?.driverAdapterError, ...((e as { errors?: unknown[] }).errors ?? []))
  }
  return false
}

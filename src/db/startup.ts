import { isPostgres } from './client.ts'
import { isDependencyUnavailable } from './unavailable.ts'

export interface StartupWait {
  /** DB_STARTUP_TIMEOUT: total seconds to keep trying */
  timeout: number
  /** DB_CONNECT_TIMEOUT: seconds one attempt may take to connect */
  connectTimeout: number
  log: (msg: string, fields: Record<string, unknown>) => void
}

// Backoff between attempts: 1 s, doubling, at most 5 s.
const FIRST_DELAY_MS = 1000
const MAX_DELAY_MS = 5000

/**
 * `serve` waits for PostgreSQL instead of exiting when it is not up yet (issue 16 §3): a
 * database and the servers that use it are often started together (docker compose, systemd,
 * Kubernetes), and the database is the slower one. Each failed attempt is logged; only errors
 * that mean "not reachable yet" are retried (a wrong password or a missing database fails at
 * once), and never for longer than DB_STARTUP_TIMEOUT. SQLite needs no wait.
 */
export async function waitForDatabase(url: string, opts: StartupWait): Promise<void> {
  if (!isPostgres(url)) return
  const { default: pg } = await import('pg')
  const deadline = Date.now() + opts.timeout * 1000
  let delay = FIRST_DELAY_MS
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: opts.connectTimeout * 1000,
      query_timeout: opts.connectTimeout * 1000,
    })
    // a connection that fails later (server stopping) must not crash the process as an unhandled 'error'
    client.on('error', () => {})
    try {
      await client.connect()
      await client.query('SELECT 1')
      if (attempt > 1) opts.log('PostgreSQL is up', { attempt })
      return
    } catch (err) {
      const reason = describe(err)
      if (!isDependencyUnavailable(err)) throw new Error(`cannot use the database: ${reason}`, { cause: err })
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(
          `PostgreSQL did not accept connections within DB_STARTUP_TIMEOUT (${opts.timeout} s): ${reason}`,
          { cause: err },
        )
      }
      const wait = Math.min(delay, left)
      opts.log('waiting for PostgreSQL', { attempt, reason, retryInMs: wait, giveUpInS: Math.ceil(left / 1000) })
      await new Promise((resolve) => setTimeout(resolve, wait))
      delay = Math.min(delay * 2, MAX_DELAY_MS)
    } finally {
      await client.end().catch(() => {})
    }
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] }
  // node-postgres reports "localhost" refusals as an AggregateError with an empty message
  const message = e?.message || e?.errors?.map((x) => x.message).join('; ') || String(err)
  return e?.code && !message.includes(e.code) ? `${message} (${e.code})` : message
}

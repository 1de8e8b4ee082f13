import { describe, expect, it } from 'vitest'
import { waitForDatabase } from '../../src/db/startup.ts'
import { pgTestUrl } from '../../src/db/testing.ts'

/**
 * `serve` waiting for PostgreSQL at start (issue 16 §3), in process: what it retries, what it
 * does not, and that it gives up. (The whole story with a real server process coming up late is
 * in test/faults/postgres.test.ts.)
 */
describe('waiting for PostgreSQL at start', () => {
  it('retries a refused connection with a log line per attempt, then gives up naming DB_STARTUP_TIMEOUT', async () => {
    const lines: { msg: string; fields: Record<string, unknown> }[] = []
    const err = await waitForDatabase('postgresql://postgres@127.0.0.1:1/portcullis', {
      timeout: 2,
      connectTimeout: 1,
      log: (msg, fields) => lines.push({ msg, fields }),
    }).catch((e: Error) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).message).toMatch(
      /^PostgreSQL did not accept connections within DB_STARTUP_TIMEOUT \(2 s\): .*ECONNREFUSED/,
    )
    expect(lines.length).toBeGreaterThanOrEqual(2)
    expect(lines.map((l) => l.fields.attempt)).toEqual(lines.map((_, i) => i + 1))
    expect(lines.every((l) => l.msg === 'waiting for PostgreSQL')).toBe(true)
  })

  it('SQLite needs no wait', async () => {
    await expect(
      waitForDatabase('file:/nonexistent/dir/x.db', {
        timeout: 1,
        connectTimeout: 1,
        log: () => {
          throw new Error('no log expected')
        },
      }),
    ).resolves.toBeUndefined()
  })

  it.skipIf(!pgTestUrl())('a database that does not exist is not waited for: it fails at once, saying so', async () => {
    const u = new URL(pgTestUrl()!)
    u.pathname = '/portcullis_no_such_database'
    const lines: string[] = []
    const err = await waitForDatabase(u.toString(), {
      timeout: 60,
      connectTimeout: 5,
      log: (msg) => lines.push(msg),
    }).catch((e: Error) => e)
    expect((err as Error).message).toMatch(/^cannot use the database: .*portcullis_no_such_database.* does not exist/)
    expect(lines).toEqual([])
  })
})

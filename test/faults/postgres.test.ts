import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PrismaPg } from '@prisma/adapter-pg'
import pg_ from 'pg'
import { PrismaClient } from '../../src/generated/postgresql/client.ts'
import { pgPoolOptions } from '../../src/db/client.ts'
import { isDependencyUnavailable } from '../../src/db/unavailable.ts'
import {
  createPostgres,
  createRedis,
  missingServices,
  type PrivatePostgres,
  type PrivateRedis,
} from '../helpers/private-services.ts'
import { importFile, spawnPortcullis, type PortcullisProcess } from '../helpers/portcullis-process.ts'
import {
  auditProbe,
  auditToken,
  authorizeProbe,
  IMPORT_DOC,
  load,
  readyProbe,
  signInPageProbe,
  summary,
  tokenProbe,
  until,
  type Outcome,
  type Probe,
} from './load.ts'

/**
 * PostgreSQL stopped, frozen and down at start (issue 16 §3, §8), against a private PostgreSQL
 * and Redis this file starts on free ports, and portcullis as a separate process. What a user
 * notices: requests that need the database fail fast with 503 and Retry-After (never a 500 or
 * a hang), /readyz says the database is unavailable, and service resumes by itself.
 */
const reason = missingServices()
if (reason) console.warn(`test/faults/postgres.test.ts skipped: ${reason}`)

// Bound on one request while the database is down or frozen: DB_QUERY_TIMEOUT (2 s) plus
// generous slack for a loaded machine. Without query timeouts a frozen database hangs requests
// until it thaws (the suite freezes it for longer than this).
const BOUND_MS = 15_000
const MASTER_KEY = crypto.randomBytes(32).toString('base64')
const TIMEOUTS = {
  PORTCULLIS_MASTER_KEY: MASTER_KEY,
  DB_CONNECT_TIMEOUT: '2',
  DB_QUERY_TIMEOUT: '2',
  REDIS_CONNECT_TIMEOUT: '2',
  REDIS_COMMAND_TIMEOUT: '2',
}

/**
 * While the database is unreachable every request answers within the bound, never a 500 or a
 * hang: either a 503 with Retry-After, or — for a request served entirely from memory (client
 * and resource caches, Redis-held interactions: issue 16 §1) — the same answer as when healthy.
 * The audit probe reads the audit table, so it must be a 503: the outage is always visible.
 */
const HEALTHY: Record<string, number> = { token: 200, authorize: 303, audit: 200, 'sign-in page': 200 }
function expectUnavailable(outcomes: Outcome[], oauth: string[]) {
  for (const o of outcomes) {
    expect(o.ms).toBeLessThan(BOUND_MS)
    if (o.status !== 503 && o.name !== 'audit' && HEALTHY[o.name] !== undefined) {
      expect(o.status, `${o.name}: a 503 or the healthy answer`).toBe(HEALTHY[o.name])
      continue
    }
    expect(summary(o)).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) })
    if (o.contentType?.startsWith('application/json')) {
      expect(JSON.parse(o.body)).toMatchObject({
        error: oauth.includes(o.name) ? 'temporarily_unavailable' : 'dependency_unavailable',
      })
    } else {
      expect(o.contentType).toMatch(/^text\/html/)
      expect(o.body).toContain('Temporarily unavailable')
    }
  }
  expect(outcomes.some((o) => o.name === 'audit')).toBe(true)
}

describe.skipIf(Boolean(reason))('PostgreSQL down or frozen', () => {
  let pg: PrivatePostgres
  let redis: PrivateRedis
  let server: PortcullisProcess
  let late: PortcullisProcess | undefined
  let doc: ReturnType<typeof importFile>
  let probes: Probe[]

  beforeAll(async () => {
    pg = await createPostgres()
    redis = await createRedis()
    await Promise.all([pg.start(), redis.start()])
    doc = importFile(IMPORT_DOC)
    server = await spawnPortcullis({
      DATABASE_URL: pg.url,
      REDIS_URL: redis.url,
      PORTCULLIS_IMPORT: doc.file,
      ...TIMEOUTS,
    })
    await server.waitForStatus('/readyz', 200, 120_000)
    const token = await auditToken(server.url)
    probes = [
      tokenProbe(server.url),
      authorizeProbe(server.url),
      auditProbe(server.url, token),
      await signInPageProbe(server.url),
    ]
  }, 180_000)

  afterAll(async () => {
    await server?.stop()
    await late?.stop()
    await pg?.destroy()
    await redis?.destroy()
    doc?.remove()
  }, 60_000)

  it('everything answers while PostgreSQL is up', async () => {
    const outcomes = await load(probes, 1)
    expect(outcomes.map(summary)).toMatchObject([{ status: 200 }, { status: 303 }, { status: 200 }, { status: 200 }])
  })

  it('stopped: requests get a fast 503 with Retry-After, /readyz says so, service resumes after a restart', async () => {
    await pg.stop()
    try {
      const outcomes = await load(probes)
      expectUnavailable(outcomes, ['token', 'authorize'])
      const ready = await readyProbe(server.url)()
      expect(ready.status).toBe(503)
      expect(JSON.parse(ready.body)).toMatchObject({
        status: 'unavailable',
        checks: { database: 'unavailable', redis: 'ok' },
      })
    } finally {
      await pg.start()
    }
    await until([tokenProbe(server.url), readyProbe(server.url)], 200)
    expect((await load(probes, 1)).map(summary)).toMatchObject([
      { status: 200 },
      { status: 303 },
      { status: 200 },
      { status: 200 },
    ])
  }, 120_000)

  it('frozen (SIGSTOP): requests fail within the query timeout instead of hanging, and recover on SIGCONT', async () => {
    pg.freeze()
    try {
      const outcomes = await load(probes, 2)
      expectUnavailable(outcomes, ['token', 'authorize'])
      const ready = await readyProbe(server.url)()
      expect(ready.status).toBe(503)
      expect(ready.ms).toBeLessThan(BOUND_MS)
      expect(JSON.parse(ready.body)).toMatchObject({ checks: { database: 'unavailable' } })
    } finally {
      pg.thaw()
    }
    await until([tokenProbe(server.url), readyProbe(server.url)], 200)
  }, 120_000)

  it('down at start: the server waits (a log line per attempt), then starts once PostgreSQL is up', async () => {
    await pg.stop()
    late = await spawnPortcullis({ DATABASE_URL: pg.url, DB_STARTUP_TIMEOUT: '120', ...TIMEOUTS })
    try {
      const first = await late.waitForLog(/^waiting for PostgreSQL$/, 60_000)
      expect(first).toMatchObject({ attempt: 1, reason: expect.stringContaining('ECONNREFUSED') })
      // still waiting, not exited, after the next attempt
      await waitUntil(() => late!.logs().filter((l) => l.msg === 'waiting for PostgreSQL').length >= 2, 30_000)
      expect(late.child.exitCode).toBeNull()
    } finally {
      await pg.start()
    }
    await late.waitForStatus('/readyz', 200, 90_000)
    expect(late.logs().some((l) => l.msg === 'PostgreSQL is up')).toBe(true)
  }, 180_000)

  it('down at start for longer than DB_STARTUP_TIMEOUT: gives up with exit code 1 and says why', async () => {
    await pg.stop()
    try {
      const quitter = await spawnPortcullis({ DATABASE_URL: pg.url, DB_STARTUP_TIMEOUT: '2', ...TIMEOUTS })
      try {
        const { code } = await quitter.exited
        expect(code).toBe(1)
        expect(quitter.lines.join('\n')).toMatch(
          /PostgreSQL did not accept connections within DB_STARTUP_TIMEOUT \(2 s\)/,
        )
      } finally {
        await quitter.stop()
      }
    } finally {
      await pg.start()
    }
  }, 120_000)

  it('a transaction cut off by the query timeout leaves no connection behind that is still inside it', async () => {
    // One connection, so the one that timed out is the one the next query would get.
    const db = new PrismaClient({
      adapter: new PrismaPg({ ...pgPoolOptions(pg.url, { connect: 2, query: 2 }), max: 1 }),
    })
    const other = new pg_.Client({ connectionString: pg.url })
    try {
      await db.setting.deleteMany({ where: { key: { startsWith: 'fault-' } } })
      const failed = db.$transaction(
        async (tx) => {
          await tx.setting.create({ data: { key: 'fault-in-tx', value: 'x' } })
          pg.freeze()
          await tx.setting.findMany() // no answer: the query timeout ends it
        },
        { timeout: 20_000 },
      )
      await expect(failed).rejects.toSatisfy(isDependencyUnavailable)
      pg.thaw()
      // the next write commits on its own (not inside the abandoned transaction) and the
      // abandoned one is rolled back
      await db.setting.create({ data: { key: 'fault-after', value: 'y' } })
      await other.connect()
      const { rows } = await other.query(`SELECT key FROM "Setting" WHERE key LIKE 'fault-%' ORDER BY key`)
      expect(rows.map((r: { key: string }) => r.key)).toEqual(['fault-after'])
    } finally {
      pg.thaw()
      await other.end().catch(() => {})
      await db.$disconnect()
    }
  }, 60_000)

  it('SIGTERM while PostgreSQL is frozen: in-flight requests end with 503, the process still exits 0', async () => {
    pg.freeze()
    try {
      const inFlight = load(probes, 1)
      await new Promise((r) => setTimeout(r, 300))
      server.child.kill('SIGTERM')
      const outcomes = await inFlight
      // answered (503 from the query timeout, or the healthy answer for what is served from
      // memory) or, if sent after the listener closed, refused; never a 500 or a hang
      for (const o of outcomes)
        expect(
          o.status === 503 || o.status === HEALTHY[o.name] || /ECONNREFUSED/.test(o.error ?? ''),
          `${o.name}: ${o.status} ${o.error ?? ''}`,
        ).toBe(true)
      expect(outcomes.find((o) => o.name === 'audit')?.status === 200).toBe(false)
      const { code } = await server.exited
      expect(code).toBe(0)
      expect(server.logs().map((l) => l.msg)).toContain('shutdown complete')
    } finally {
      pg.thaw()
    }
  }, 120_000)
})

async function waitUntil(cond: () => boolean, ms: number) {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 100))
  }
}

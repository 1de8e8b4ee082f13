import crypto from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
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
 * Redis stopped and frozen under a small load (issue 16 §3, §8), against a private Redis and
 * PostgreSQL this file starts on free ports, and portcullis as a separate process. Requests
 * that need Redis (sign-in interactions and sessions live there) fail fast with 503 and
 * Retry-After, never a 500 or a hang; requests that do not need it keep working; /readyz names
 * Redis; service resumes by itself when Redis is back.
 */
const reason = missingServices()
if (reason) console.warn(`test/faults/redis.test.ts skipped: ${reason}`)

// REDIS_COMMAND_TIMEOUT (2 s) plus generous slack for a loaded machine.
const BOUND_MS = 15_000
const ENV = {
  DB_CONNECT_TIMEOUT: '2',
  DB_QUERY_TIMEOUT: '2',
  REDIS_CONNECT_TIMEOUT: '2',
  REDIS_COMMAND_TIMEOUT: '2',
  PORTCULLIS_MASTER_KEY: crypto.randomBytes(32).toString('base64'),
}

function expectUnavailable(outcomes: Outcome[]) {
  for (const o of outcomes) {
    expect(summary(o)).toMatchObject({ status: 503, retryAfter: expect.stringMatching(/^\d+$/) })
    expect(o.ms).toBeLessThan(BOUND_MS)
    expect(o.contentType).toMatch(/^text\/html/)
    expect(o.body).toContain('Temporarily unavailable')
  }
}

describe.skipIf(Boolean(reason))('Redis down or frozen', () => {
  let pg: PrivatePostgres
  let redis: PrivateRedis
  let server: PortcullisProcess
  let doc: ReturnType<typeof importFile>
  let needsRedis: Probe[]
  let databaseOnly: Probe[]

  beforeAll(async () => {
    pg = await createPostgres()
    redis = await createRedis()
    await Promise.all([pg.start(), redis.start()])
    doc = importFile(IMPORT_DOC)
    server = await spawnPortcullis({ DATABASE_URL: pg.url, REDIS_URL: redis.url, PORTCULLIS_IMPORT: doc.file, ...ENV })
    await server.waitForStatus('/readyz', 200, 120_000)
    const token = await auditToken(server.url)
    needsRedis = [authorizeProbe(server.url), await signInPageProbe(server.url)]
    databaseOnly = [tokenProbe(server.url), auditProbe(server.url, token)]
  }, 180_000)

  afterAll(async () => {
    await server?.stop()
    await pg?.destroy()
    await redis?.destroy()
    doc?.remove()
  }, 60_000)

  async function expectOutage() {
    const [redisOutcomes, dbOutcomes] = await Promise.all([load(needsRedis), load(databaseOnly)])
    expectUnavailable(redisOutcomes)
    for (const o of dbOutcomes) {
      expect(summary(o)).toMatchObject({ status: 200 })
      expect(o.ms).toBeLessThan(BOUND_MS)
    }
    const ready = await readyProbe(server.url)()
    expect(ready.status).toBe(503)
    expect(ready.ms).toBeLessThan(BOUND_MS)
    expect(JSON.parse(ready.body)).toMatchObject({
      status: 'unavailable',
      checks: { database: 'ok', redis: 'unavailable' },
    })
  }

  it('stopped: what needs Redis gets a fast 503 with Retry-After, the rest keeps working, service resumes after a restart', async () => {
    await redis.stop()
    try {
      await expectOutage()
    } finally {
      await redis.start()
    }
    // a restarted Redis is empty: interactions started before it are gone, new ones work
    await until([readyProbe(server.url)], 200)
    expect((await authorizeProbe(server.url)()).status).toBe(303)
  }, 120_000)

  it('frozen (SIGSTOP): requests that need Redis fail within the command timeout instead of hanging, and recover on SIGCONT', async () => {
    const page = await signInPageProbe(server.url)
    redis.freeze()
    try {
      await expectOutage()
    } finally {
      redis.thaw()
    }
    await until([readyProbe(server.url)], 200)
    expect((await authorizeProbe(server.url)()).status).toBe(303)
    // the interaction started before the freeze is still there
    expect((await page()).status).toBe(200)
  }, 120_000)
})

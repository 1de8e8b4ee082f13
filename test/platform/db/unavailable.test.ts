import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import pg from 'pg'
import { createDb, type Db } from '../../../src/db/client.ts'
import { createRedis } from '../../../src/db/redis.ts'
import { createTestDatabase, type TestDatabase } from '../../../src/db/testing.ts'
import { dependencyUnavailable, isDependencyUnavailable } from '../../../src/db/unavailable.ts'
import { AppError, badRequest } from '../../../src/errors.ts'

/**
 * Which errors become a 503 (issue 16 §3). Both directions matter to a caller: an outage must
 * not look like a bug (500), and a bug or bad input must not look like an outage (503 invites a
 * retry that cannot succeed). The errors are the real ones the libraries throw.
 */
const rejection = async (p: Promise<unknown>) => {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

describe('isDependencyUnavailable', () => {
  let tdb: TestDatabase
  let db: Db

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite')
    db = await createDb(tdb.url)
  })
  afterAll(async () => {
    await db?.$disconnect()
    await tdb?.drop()
  })

  it('an unreachable PostgreSQL (through Prisma and through node-postgres) is unavailable', async () => {
    const pgDb = await createDb('postgresql://nobody@127.0.0.1:1/none', { connect: 1, query: 1 })
    try {
      expect(isDependencyUnavailable(await rejection(pgDb.user.findMany()))).toBe(true)
      expect(isDependencyUnavailable(await rejection(pgDb.$transaction(async (tx) => tx.user.findMany())))).toBe(true)
    } finally {
      await pgDb.$disconnect()
    }
    const client = new pg.Client({ connectionString: 'postgresql://nobody@127.0.0.1:1/none' })
    expect(isDependencyUnavailable(await rejection(client.connect()))).toBe(true)
  })

  it('an unreachable or closed Redis is unavailable', async () => {
    const redis = createRedis('redis://127.0.0.1:1', { connect: 1, command: 1 })
    redis.on('error', () => {})
    try {
      expect(isDependencyUnavailable(await rejection(redis.get('k')))).toBe(true)
    } finally {
      redis.disconnect()
    }
    const offline = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false })
    offline.on('error', () => {})
    try {
      expect(isDependencyUnavailable(await rejection(offline.get('k')))).toBe(true)
    } finally {
      offline.disconnect()
    }
  })

  it('bugs and bad input are not: constraint violations, bad SQL, validation, plain errors', async () => {
    await db.user.create({ data: { id: 'u1', email: 'dup@example.com' } })
    expect(
      isDependencyUnavailable(await rejection(db.user.create({ data: { id: 'u1', email: 'dup@example.com' } }))),
    ).toBe(false)
    expect(isDependencyUnavailable(await rejection(db.$queryRawUnsafe('SELEC 1')))).toBe(false)
    expect(isDependencyUnavailable(await rejection(db.user.findMany({ where: { nope: 1 } as never })))).toBe(false)
    for (const e of [
      new Error('boom'),
      new TypeError('x is undefined'),
      badRequest('invalid_request', 'no'),
      new AppError('server_error', 'x'),
      undefined,
      null,
      'text',
      { code: 42 },
    ]) {
      expect(isDependencyUnavailable(e)).toBe(false)
    }
  })

  it('is idempotent: our own 503 stays one, and a wrapped cause is found', () => {
    const e = dependencyUnavailable(new Error('Query read timeout'))
    expect(e.status).toBe(503)
    expect(isDependencyUnavailable(e)).toBe(true)
    expect(isDependencyUnavailable(new Error('handler failed', { cause: new Error('Command timed out') }))).toBe(true)
    // a cycle of causes does not loop
    const a = new Error('a') as Error & { cause?: unknown }
    const b = new Error('b', { cause: a })
    a.cause = b
    expect(isDependencyUnavailable(a)).toBe(false)
  })
})

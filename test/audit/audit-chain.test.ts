import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { pgTestUrl } from '../../src/db/testing.ts'
import { recordHash } from '../../src/audit/canonical.ts'
import { testContainer } from '../helpers/container.ts'
import type { Container } from '../../src/container.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * The tamper-evidence suite: records are edited, deleted, inserted, reordered and truncated
 * directly in the database (SQL, as an attacker with database access would), and
 * verification must name the right record. Plus checkpoints across key rotation, retention,
 * and parallel writers on PostgreSQL.
 */
type T = Awaited<ReturnType<typeof testContainer>>

async function seed(c: Container, n: number) {
  await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent"')
  await c.db.$executeRawUnsafe('DELETE FROM "AuditCheckpoint"')
  for (let i = 1; i <= n; i++)
    void c.audit.record({
      action: testAction('test.event'),
      outcome: 'success',
      actor: `user-${i}`,
      target: `t-${i}`,
      ip: '10.0.0.1',
      details: { i },
    })
  await c.audit.flush()
}

const row = async (c: Container, seq: number) => (await c.db.auditEvent.findUnique({ where: { seq } }))!

/** Recomputes a row's hash for its current content (an attacker covering tracks). */
async function rehash(c: Container, seq: number) {
  const r = await row(c, seq)
  await c.db.auditEvent.update({ where: { seq }, data: { hash: recordHash({ ...r, prevHash: r.prevHash! }) } })
}

async function renumber(c: Container, fromSeq: number, by: number) {
  // Move out of the way first so the primary key never collides, then into place.
  await c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET seq = -seq WHERE seq >= ${fromSeq}`)
  await c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET seq = -seq + (${by}) WHERE seq < 0`)
}

const firstProblem = async (c: Container) => {
  const r = await c.auditChain.verify()
  expect(r.ok).toBe(false)
  return r.problems[0]!
}

describe('audit chain on SQLite', () => {
  let t: T
  let c: Container
  beforeAll(async () => {
    t = await testContainer('sqlite')
    c = t.c
  })
  afterAll(async () => {
    await t?.dispose()
  })
  beforeEach(async () => {
    await seed(c, 10)
  })

  it('appends contiguous, chained records and verifies clean', async () => {
    const rows = await c.db.auditEvent.findMany({ orderBy: { seq: 'asc' } })
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(rows[0]!.prevHash).toBe('0'.repeat(64))
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash)
    const r = await c.auditChain.verify()
    expect(r).toMatchObject({ ok: true, records: 10, firstSeq: 1, lastSeq: 10, problems: [] })
  })

  it('stores details canonically and never secrets', async () => {
    await c.audit.record({
      action: testAction('test.secret'),
      outcome: 'info',
      details: { z: 1, password: 'hunter2hunter2', nested: { client_secret: 'x', ok: true }, a: 'b' },
    })
    const [e] = await c.audit.list({ action: testAction('test.secret') })
    expect(e!.details).toEqual({
      a: 'b',
      nested: { client_secret: '[redacted]', ok: true },
      password: '[redacted]',
      z: 1,
    })
    const raw = await row(c, 11)
    expect(raw.details).toBe(
      '{"a":"b","nested":{"client_secret":"[redacted]","ok":true},"password":"[redacted]","z":1}',
    )
  })

  it('edit: a changed field is caught at that record', async () => {
    await c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET actor = 'mallory' WHERE seq = 5`)
    expect(await firstProblem(c)).toMatchObject({ kind: 'edited', seq: 5 })
  })

  it('edit with the hash recomputed: caught at that record through the next link', async () => {
    await c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET outcome = 'failure' WHERE seq = 4`)
    await rehash(c, 4)
    expect(await firstProblem(c)).toMatchObject({ kind: 'edited', seq: 4 })
  })

  it('edit with every later hash rewritten: caught by the signed checkpoint', async () => {
    await c.auditChain.checkpoint('manual') // signs seq 10
    await c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET target = 'nobody' WHERE seq = 6`)
    let prev = (await row(c, 5)).hash!
    for (let s = 6; s <= 10; s++) {
      await c.db.auditEvent.update({ where: { seq: s }, data: { prevHash: prev } })
      await rehash(c, s)
      prev = (await row(c, s)).hash!
    }
    const p = await firstProblem(c)
    expect(p.kind).toBe('edited')
    expect(p.message).toMatch(/rewritten/)
  })

  it('delete: the gap names the deleted record', async () => {
    await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent" WHERE seq = 6')
    expect(await firstProblem(c)).toMatchObject({ kind: 'deleted', seq: 6 })
  })

  it('delete with later records renumbered to close the gap: still named', async () => {
    await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent" WHERE seq = 6')
    await renumber(c, 7, -1)
    expect(await firstProblem(c)).toMatchObject({ kind: 'deleted', seq: 6 })
  })

  it('delete at the head (no retention checkpoint): named', async () => {
    await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent" WHERE seq <= 2')
    expect(await firstProblem(c)).toMatchObject({ kind: 'deleted', seq: 1 })
  })

  it('insert with a well-formed hash (later records renumbered): the inserted record is named', async () => {
    await renumber(c, 5, 1)
    const before = await row(c, 4)
    const forged = {
      time: new Date(),
      actor: 'mallory',
      action: testAction('test.event'),
      target: 't-x',
      outcome: 'success',
      ip: null,
      userAgent: null,
      requestId: null,
      details: '{}',
      seq: 5,
      prevHash: before.hash!,
    }
    await c.db.auditEvent.create({ data: { ...forged, hash: recordHash(forged) } })
    expect(await firstProblem(c)).toMatchObject({ kind: 'inserted', seq: 5 })
  })

  it('insert without a valid hash: the inserted record is named', async () => {
    await renumber(c, 5, 1)
    await c.db.$executeRawUnsafe(
      `INSERT INTO "AuditEvent" (seq, time, action, outcome, details, "prevHash", hash) VALUES (5, CURRENT_TIMESTAMP, 'login', 'success', '{}', 'x', 'y')`,
    )
    expect(await firstProblem(c)).toMatchObject({ kind: 'inserted', seq: 5 })
  })

  it('insert before the first record: named', async () => {
    await c.db.$executeRawUnsafe(
      `INSERT INTO "AuditEvent" (seq, time, action, outcome, details, "prevHash", hash) VALUES (0, CURRENT_TIMESTAMP, 'login', 'success', '{}', 'x', 'y')`,
    )
    expect(await firstProblem(c)).toMatchObject({ kind: 'inserted', seq: 0 })
  })

  it('reorder: two records swapped are named at the first position', async () => {
    await c.db.$executeRawUnsafe('UPDATE "AuditEvent" SET seq = -1 WHERE seq = 7')
    await c.db.$executeRawUnsafe('UPDATE "AuditEvent" SET seq = 7 WHERE seq = 8')
    await c.db.$executeRawUnsafe('UPDATE "AuditEvent" SET seq = 8 WHERE seq = -1')
    expect(await firstProblem(c)).toMatchObject({ kind: 'reordered', seq: 7 })
  })

  it('truncated tail: detected against the latest checkpoint', async () => {
    await c.auditChain.checkpoint('manual')
    await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent" WHERE seq > 7')
    const r = await c.auditChain.verify()
    expect(r.ok).toBe(false)
    expect(r.problems).toEqual([expect.objectContaining({ kind: 'truncated', seq: 8 })])
    expect(r.problems[0]!.message).toMatch(/8-10/)
  })

  it('a forged checkpoint is reported', async () => {
    const cp = (await c.auditChain.checkpoint('manual'))!
    const [h, p, s] = cp.jws.split('.')
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString())
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, seq: 99 })).toString('base64url')}.${s}`
    await c.db.auditCheckpoint.update({ where: { id: cp.id }, data: { jws: forged } })
    expect(await firstProblem(c)).toMatchObject({ kind: 'checkpoint_invalid' })
  })

  it('checkpoints keep verifying after the signing keys rotate and retire', async () => {
    const cp = (await c.auditChain.checkpoint('manual'))!
    await c.keys.rotate(0)
    await c.keys.retireDue(new Date(Date.now() + 1000))
    expect((await c.keys.list()).find((k) => k.kid === cp.kid)!.status).toBe('retired')
    await c.refresh()
    void c.audit.record({ action: testAction('test.after_rotation'), outcome: 'info' })
    await c.audit.flush()
    const cp2 = (await c.auditChain.checkpoint('manual'))!
    expect(cp2.kid).not.toBe(cp.kid)
    const r = await c.auditChain.verify()
    expect(r).toMatchObject({ ok: true, checkpoints: { total: 2, valid: 2 } })
  })

  it('retention: pruning keeps the rest verifiable, and deleting past the anchor is caught', async () => {
    const r = await c.auditChain.prune(30, 'test', new Date(Date.now() + 31 * 86_400_000))
    expect(r).toMatchObject({ deleted: 10, anchorSeq: 10 })
    const v = await c.auditChain.verify()
    expect(v).toMatchObject({ ok: true, firstSeq: 11, anchor: { kind: 'prune', seq: 10 } })
    expect((await c.audit.list({ action: 'audit.pruned' }))[0]!.details).toMatchObject({ deleted: 10, anchor_seq: 10 })
    for (let i = 0; i < 3; i++) void c.audit.record({ action: testAction('test.more'), outcome: 'info' })
    await c.audit.flush()
    await c.db.$executeRawUnsafe('DELETE FROM "AuditEvent" WHERE seq = 11')
    expect(await firstProblem(c)).toMatchObject({ kind: 'deleted', seq: 11 })
  })

  it('nothing to prune within the retention period', async () => {
    expect(await c.auditChain.prune(365)).toMatchObject({ deleted: 0 })
  })

  it('record() never throws into the caller, even for junk input', async () => {
    await expect(
      c.audit.record({
        action: testAction('test.junk'),
        outcome: 'info',
        details: { big: 'x'.repeat(100_000), n: 10n as unknown as number },
      }),
    ).resolves.toBeUndefined()
    const [e] = await c.audit.list({ action: testAction('test.junk') })
    expect(String(e!.details.big).length).toBeLessThan(3000)
  })
})

describe.skipIf(!pgTestUrl())('audit chain on PostgreSQL: parallel writers', () => {
  let t: T
  const others: Container[] = []
  beforeAll(async () => {
    t = await testContainer('postgresql')
  })
  afterAll(async () => {
    for (const o of others) await o.close()
    await t?.dispose()
  })

  it('several instances writing concurrently never fork the chain', async () => {
    const { createContainer } = await import('../../src/container.ts')
    const { createLogger } = await import('../../src/logger.ts')
    for (let i = 0; i < 3; i++) others.push(await createContainer(t.c.config, { logger: createLogger('silent') }))
    const all = [t.c, ...others]
    const before = (await t.c.queries.audit.tail())?.seq ?? 0
    // 4 instances x 100 records, recorded in small concurrent bursts (some await, some not).
    await Promise.all(
      all.map(async (c, i) => {
        for (let burst = 0; burst < 10; burst++) {
          await Promise.all(
            Array.from({ length: 10 }, (_, j) =>
              c.audit.record({
                action: testAction('test.parallel'),
                outcome: 'success',
                actor: `instance-${i}`,
                details: { burst, j },
              }),
            ),
          )
        }
      }),
    )
    await Promise.all(all.map((c) => c.audit.flush()))
    const rows = await t.c.db.auditEvent.findMany({
      orderBy: { seq: 'asc' },
      select: { seq: true, prevHash: true, hash: true },
    })
    expect(rows.length).toBe(before + 400)
    rows.forEach((r, i) => expect(r.seq).toBe(i + 1))
    expect(new Set(rows.map((r) => r.prevHash)).size).toBe(rows.length) // no two records share a parent: no fork
    // The advisory lock queued the writers: no batch had to be retried after a conflict.
    for (const c of all) expect((await c.metrics.auditWriteFailures.get()).values[0]?.value ?? 0).toBe(0)
    await t.c.auditChain.checkpoint('manual')
    const v = await t.c.auditChain.verify()
    expect(v).toMatchObject({ ok: true, records: before + 400, lastSeq: before + 400 })
  })

  it('tampering is caught on PostgreSQL too', async () => {
    await t.c.db.$executeRawUnsafe(`UPDATE "AuditEvent" SET actor = 'mallory' WHERE seq = 42`)
    expect(await firstProblem(t.c)).toMatchObject({ kind: 'edited', seq: 42 })
  })
})

if (!pgTestUrl())
  console.warn('audit-chain: TEST_DATABASE_URL is not set; the PostgreSQL parallel-writer suite is skipped')

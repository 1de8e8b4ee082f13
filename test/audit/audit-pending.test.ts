import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { appender } from '../../src/audit/append.ts'
import { audited } from '../../src/db/audited.ts'
import { createLogger } from '../../src/logger.ts'
import type { PreparedRecord } from '../../src/audit/queries.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * Issue 16 §5: a state change and its audit record commit together. The record goes into the
 * AuditPending outbox in the change's transaction (db/audited.ts); the appender chains it and
 * deletes the row in one transaction. What a process that died left there is chained by the
 * next appender's start sweep, once even when several instances sweep, and a record the
 * database refuses never blocks the others.
 */
describeOnBackends(
  'audit-pending.test.ts',
  'audit records committed with their change (AuditPending outbox)',
  (backend) => {
    let server: TestServer
    beforeAll(async () => {
      server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl })
    })
    afterAll(async () => {
      await server?.close()
    })

    const rec = (action: string, actor = 'pending-test'): PreparedRecord => ({
      time: new Date(),
      actor,
      action,
      target: 'doc:1',
      outcome: 'success',
      ip: null,
      userAgent: null,
      requestId: null,
      details: '{}',
    })
    const pendingCount = () => server.container.queries.audit.pending.count()
    /** What a process that died right after its commit leaves behind: rows in AuditPending, nothing queued. */
    const leaveBehind = (records: PreparedRecord[]) =>
      server.container.db.$transaction((tx) => server.container.queries.audit.pending.insert(tx, records))

    it('a change and its record commit together; a change rolled back leaves no record', async () => {
      const { db, audit } = server.container
      await audited(
        db,
        audit.with((key: string) => ({
          action: testAction('pending.committed'),
          outcome: 'success',
          actor: 'pending-test',
          target: key,
        })),
        async (tx) => {
          await tx.setting.create({ data: { key: 'pending-test.committed', value: '1' } })
          return 'pending-test.committed'
        },
      )
      await expect(
        audited(
          db,
          audit.with(() => ({ action: testAction('pending.rolled_back'), outcome: 'success', actor: 'pending-test' })),
          async (tx) => {
            await tx.setting.create({ data: { key: 'pending-test.rolled-back', value: '1' } })
            throw new Error('the change fails after its first write')
          },
        ),
      ).rejects.toThrow('the change fails')
      await audit.flush()
      expect(await pendingCount()).toBe(0)
      expect((await audit.list({ action: testAction('pending.committed') })).map((r) => r.target)).toEqual([
        'pending-test.committed',
      ])
      expect(await audit.list({ action: testAction('pending.rolled_back') })).toEqual([])
      expect(await db.setting.findUnique({ where: { key: 'pending-test.rolled-back' } })).toBeNull()
    })

    it('rows left behind are chained at the next start, once, even when two instances sweep at the same time', async () => {
      await leaveBehind([rec('pending.orphan.1'), rec('pending.orphan.2'), rec('pending.orphan.3')])
      expect(await pendingCount()).toBe(3)
      const q = server.container.queries.audit
      // two appenders (two instances starting together) each sweep at start
      const a = appender(q, createLogger('silent'), { batchMs: 1, sweepMs: 0 })
      const b = appender(q, createLogger('silent'), { batchMs: 1, sweepMs: 0 })
      await Promise.all([a.sweep(), b.sweep()])
      await Promise.all([a.flush(), b.flush()])
      await Promise.all([a.close(), b.close()])
      expect(await pendingCount()).toBe(0)
      const rows = await server.container.audit.list({ action: 'pending.orphan.*', limit: 10 })
      expect(rows.map((r) => r.action).sort()).toEqual(['pending.orphan.1', 'pending.orphan.2', 'pending.orphan.3'])
      expect((await server.container.auditChain.verify()).ok).toBe(true)
    })

    it('a pending record the database refuses in every form does not block the others: an audit.record_refused record takes its place', async () => {
      const db = server.container.db
      const rule =
        backend.kind === 'postgresql'
          ? [
              'ALTER TABLE "AuditEvent" ADD CONSTRAINT no_trudy_pending CHECK (actor IS NULL OR actor NOT LIKE \'trudy%\')',
              'ALTER TABLE "AuditEvent" DROP CONSTRAINT no_trudy_pending',
            ]
          : [
              "CREATE TRIGGER no_trudy_pending BEFORE INSERT ON \"AuditEvent\" WHEN NEW.actor LIKE 'trudy%' BEGIN SELECT RAISE(ABORT, 'no trudy'); END",
              'DROP TRIGGER no_trudy_pending',
            ]
      // the rule first: the server's own appender sweeps too (every 5 s) and must not chain trudy
      await db.$executeRawUnsafe(rule[0]!)
      try {
        await leaveBehind([
          rec('pending.poison.first', 'ann'),
          rec('pending.poison.refused', 'trudy'),
          rec('pending.poison.second', 'bob'),
        ])
        const writer = appender(server.container.queries.audit, createLogger('silent'), {
          batchMs: 1,
          maxAttempts: 2,
          sweepMs: 0,
        })
        await writer.sweep()
        await writer.flush()
        expect(writer.pending()).toBe(0)
        expect(writer.health().ok).toBe(true)
        await writer.close()
      } finally {
        await db.$executeRawUnsafe(rule[1]!)
      }
      expect(await pendingCount()).toBe(0)
      const rows = await server.container.audit.list({ limit: 10 })
      const seen = rows
        .filter((r) => r.action.startsWith('pending.poison.') || r.action === 'audit.record_refused')
        .map((r) => r.action)
        .reverse()
      // (the server's own appender may have taken part: each record still enters the chain once)
      expect(seen.sort()).toEqual(['audit.record_refused', 'pending.poison.first', 'pending.poison.second'])
      expect(rows.find((r) => r.action === 'audit.record_refused')).toMatchObject({
        details: { action: 'pending.poison.refused', actor: 'trudy' },
      })
      expect((await server.container.auditChain.verify()).ok).toBe(true)
    }, 60_000)
  },
)

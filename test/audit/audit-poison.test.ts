import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { runCli } from '../helpers/cli.ts'
import { appender } from '../../src/audit/append.ts'
import { createLogger } from '../../src/logger.ts'
import type { PreparedRecord } from '../../src/audit/queries.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * Issue 16 §3/§4: a record the database cannot store never blocks the ones behind it, text
 * PostgreSQL refuses (NUL) or cannot encode (lone surrogates) is stored escaped with a chain
 * that still verifies, and /readyz says so while the audit writer cannot write.
 */
describeOnBackends('audit-poison.test.ts', 'audit writer with unstorable records', (backend) => {
  let server: TestServer
  const logs: string[] = []
  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl, logSink: logs })
  })
  afterAll(async () => {
    await server?.close()
  })

  const verifyCli = () =>
    runCli(['audit', 'verify'], {
      DATABASE_URL: server.config.DATABASE_URL,
      DATA_DIR: server.config.DATA_DIR,
      PORTCULLIS_MASTER_KEY: server.config.PORTCULLIS_MASTER_KEY!,
      LOG_LEVEL: 'silent',
    })

  it('a NUL or a lone surrogate in actor, target or details is written escaped, the records after it are written, and `portcullis audit verify` passes', async () => {
    const audit = server.container.audit
    void audit.record({ action: testAction('poison.before'), outcome: 'info', actor: 'ann@example.com' })
    void audit.record({
      action: 'login',
      outcome: 'failure',
      actor: 'ann@example.com\u0000',
      target: 'x\ud800y',
      userAgent: 'UA\u0000',
      details: { email: 'ann\u0000@example.com', half: '\udc00' },
    })
    void audit.record({ action: testAction('poison.after'), outcome: 'info', actor: 'bob@example.com' })
    await audit.flush()
    const rows = await audit.list({ limit: 10 })
    const actions = rows.map((r) => r.action)
    expect(actions).toEqual(expect.arrayContaining(['poison.before', 'login', 'poison.after']))
    const login = rows.find((r) => r.action === 'login')!
    expect(login.actor).toBe('ann@example.com\\u0000')
    expect(login.target).toBe('x\\ud800y')
    expect(login.userAgent).toBe('UA\\u0000')
    expect(login.details).toEqual({ email: 'ann\u0000@example.com', half: '\udc00' }) // JSON text keeps them as \u escapes
    expect(audit.health().ok).toBe(true)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
    const verify = await verifyCli()
    expect(verify.stdout + verify.stderr).toMatch(/OK: no tampering found/)
    expect(verify.code).toBe(0)
  }, 60_000)

  it('a record the database refuses is isolated from its batch: the others are written, it is stored escaped, nothing is retried forever', async () => {
    const q = server.container.queries.audit
    const silent = createLogger('silent')
    const writer = appender(q, silent, { batchMs: 1, maxAttempts: 2 })
    const rec = (action: string, over: Partial<PreparedRecord> = {}): PreparedRecord => ({
      time: new Date(),
      actor: 'isolation-test',
      action,
      target: null,
      outcome: 'info',
      ip: null,
      userAgent: null,
      requestId: null,
      details: '{}',
      ...over,
    })
    // Prepared records skip record()'s escaping: this is what reaches the database when some
    // other path lets unstorable text through. PostgreSQL refuses NUL; an impossible time
    // (year 275760) is refused by PostgreSQL's timestamp type.
    const poisoned = rec('isolation.poisoned', { actor: 'mallory\u0000', time: new Date(8.64e15) })
    await Promise.all([
      writer.enqueue(rec('isolation.first')),
      writer.enqueue(poisoned),
      writer.enqueue(rec('isolation.second')),
    ])
    await writer.flush()
    expect(writer.pending()).toBe(0)
    expect(writer.health().ok).toBe(true)
    const rows = await server.container.audit.list({ limit: 20 })
    const mine = rows
      .filter((r) => r.action.startsWith('isolation.'))
      .map((r) => r.action)
      .reverse()
    expect(mine).toEqual(['isolation.first', 'isolation.poisoned', 'isolation.second'])
    const stored = rows.find((r) => r.action === 'isolation.poisoned')!
    if (backend.kind === 'postgresql') expect(stored.actor).toBe('mallory\\u0000')
    await writer.close()
    const verify = await verifyCli()
    expect(verify.code).toBe(0)
  }, 60_000)

  it('a record the database refuses in every form is replaced by an audit.record_refused record naming it; the chain goes on', async () => {
    const db = server.container.db
    // The test database's own rule: no actor starting with "trudy" (a refusal no escaping can avoid).
    const rule =
      backend.kind === 'postgresql'
        ? [
            'ALTER TABLE "AuditEvent" ADD CONSTRAINT no_trudy CHECK (actor IS NULL OR actor NOT LIKE \'trudy%\')',
            'ALTER TABLE "AuditEvent" DROP CONSTRAINT no_trudy',
          ]
        : [
            "CREATE TRIGGER no_trudy BEFORE INSERT ON \"AuditEvent\" WHEN NEW.actor LIKE 'trudy%' BEGIN SELECT RAISE(ABORT, 'no trudy'); END",
            'DROP TRIGGER no_trudy',
          ]
    await db.$executeRawUnsafe(rule[0]!)
    try {
      const writer = appender(server.container.queries.audit, createLogger('silent'), { batchMs: 1, maxAttempts: 2 })
      const rec = (action: string, actor: string): PreparedRecord => ({
        time: new Date(),
        actor,
        action,
        target: 'doc:1',
        outcome: 'success',
        ip: '192.0.2.1',
        userAgent: null,
        requestId: 'r-77',
        details: '{}',
      })
      await Promise.all([
        writer.enqueue(rec('refusal.first', 'ann')),
        writer.enqueue(rec('refusal.refused', 'trudy')),
        writer.enqueue(rec('refusal.second', 'bob')),
      ])
      await writer.flush()
      expect(writer.pending()).toBe(0)
      await writer.close()
    } finally {
      await db.$executeRawUnsafe(rule[1]!)
    }
    const rows = await server.container.audit.list({ limit: 10 })
    const seen = rows
      .filter((r) => r.action.startsWith('refusal.') || r.action === 'audit.record_refused')
      .map((r) => r.action)
      .reverse()
    expect(seen).toEqual(['refusal.first', 'audit.record_refused', 'refusal.second'])
    const stand = rows.find((r) => r.action === 'audit.record_refused')!
    expect(stand).toMatchObject({
      outcome: 'failure',
      requestId: 'r-77',
      details: { action: 'refusal.refused', actor: 'trudy', target: 'doc:1', outcome: 'success' },
    })
    expect((await server.container.auditChain.verify()).ok).toBe(true)
  }, 60_000)

  it('/readyz reports the audit writer while it cannot write, and the waiting records are written once it can', async () => {
    const db = server.container.db
    const audit = server.container.audit
    await db.$executeRawUnsafe('ALTER TABLE "AuditEvent" RENAME TO "AuditEventAway"')
    try {
      void audit.record({ action: testAction('outage.during'), outcome: 'info', actor: 'carol@example.com' })
      await audit.flush()
      expect(audit.health().ok).toBe(false)
      const res = await fetch(`${server.url}/readyz`)
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({
        status: 'unavailable',
        checks: { database: 'ok', audit: 'unavailable' },
      })
    } finally {
      await db.$executeRawUnsafe('ALTER TABLE "AuditEventAway" RENAME TO "AuditEvent"')
    }
    // The writer retries with backoff (at most 5 s apart); the record was kept, not dropped.
    const until = Date.now() + 20_000
    while (!audit.health().ok && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    expect(audit.health().ok).toBe(true)
    expect((await audit.list({ action: testAction('outage.during') })).length).toBe(1)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
    expect(logs.some((l) => l.includes('"audit write failed; will retry"'))).toBe(true)
  }, 60_000)
})

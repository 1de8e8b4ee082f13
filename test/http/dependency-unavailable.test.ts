import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * A database that does not answer within DB_QUERY_TIMEOUT (issue 16 §3): here another session
 * holds the lock a request needs (SQLite: the write lock, past busy_timeout; PostgreSQL: a table
 * lock, past statement_timeout). The caller gets 503 with Retry-After and a stable error code,
 * not a 500 and not a wait as long as the lock; errors unrelated to the database keep their own
 * status; once the lock is gone the same requests succeed. (Stopped and frozen servers are in
 * test/faults/.)
 */
const SECRET = (id: string) => `${id}-secret-0123456789abcdef`
const basic = (id: string, secret = SECRET(id)) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
const form = { 'content-type': 'application/x-www-form-urlencoded' }

/** Another session holding the locks the token endpoint and store creation need. */
async function holdLocks(server: TestServer): Promise<() => Promise<void>> {
  if (server.db.kind === 'sqlite') {
    const { default: Database } = await import('better-sqlite3')
    const other = new Database(server.db.url.replace(/^file:/, ''))
    other.exec('BEGIN IMMEDIATE') // the write lock: other writers wait busy_timeout, then SQLITE_BUSY
    return async () => {
      other.exec('ROLLBACK')
      other.close()
    }
  }
  const { default: pg } = await import('pg')
  const other = new pg.Client({ connectionString: server.db.url })
  await other.connect()
  await other.query('BEGIN')
  await other.query('LOCK TABLE "OidcPayload", "PolicyStore" IN ACCESS EXCLUSIVE MODE')
  return async () => {
    await other.query('ROLLBACK')
    await other.end()
  }
}

describeOnBackends('test/http/dependency-unavailable.test.ts', 'a database that does not answer in time', (backend) => {
  let server: TestServer
  let admin: string
  let reader: string

  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl, env: { DB_QUERY_TIMEOUT: '1' } })
    await registerServiceClients(server, [
      { id: 'svc' },
      { id: 'policy-admin', scope: 'authz:admin' },
      { id: 'reader', scope: 'audit:read' },
    ])
    admin = await apiToken(server, 'policy-admin', 'authz:admin')
    reader = await apiToken(server, 'reader', 'audit:read')
  })
  afterAll(async () => {
    await server?.close()
  })

  it('OAuth token endpoint: 503 temporarily_unavailable with Retry-After; a wrong secret is still 401; 200 once the lock is gone', async () => {
    const release = await holdLocks(server)
    try {
      const r = await call(server, 'POST', '/token', undefined, 'grant_type=client_credentials', {
        ...form,
        authorization: basic('svc'),
      })
      expect({ status: r.status, body: r.body }).toMatchObject({
        status: 503,
        body: { error: 'temporarily_unavailable' },
      })
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/)
      expect(r.headers.get('cache-control')).toBe('no-store')
      // reading the client needs no lock: a wrong secret is the caller's error, not ours
      const wrong = await call(server, 'POST', '/token', undefined, 'grant_type=client_credentials', {
        ...form,
        authorization: basic('svc', 'wrong-secret-0123456789abcdefgh'),
      })
      expect({ status: wrong.status, error: wrong.body.error }).toEqual({ status: 401, error: 'invalid_client' })
    } finally {
      await release()
    }
    const ok = await call(server, 'POST', '/token', undefined, 'grant_type=client_credentials', {
      ...form,
      authorization: basic('svc'),
    })
    expect(ok.status).toBe(200)
  })

  it('our JSON API: 503 dependency_unavailable with Retry-After; a caller without the scope is still 403; 201 once the lock is gone', async () => {
    const store = { name: 'locked', model: 'rbac.conf', policy: 'p, alice, doc, read\n', reason: 'fault test' }
    const release = await holdLocks(server)
    try {
      const r = await call(server, 'POST', '/authz/v1/stores', admin, store)
      expect({ status: r.status, body: r.body }).toEqual({
        status: 503,
        body: { error: 'dependency_unavailable', error_description: expect.stringContaining('try again') },
      })
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/)
      const page = await fetch(`${server.url}/authz/v1/stores`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', accept: 'text/html' },
        body: JSON.stringify({ ...store, name: 'locked-page' }),
      })
      expect(page.status).toBe(503)
      expect(await page.text()).toContain('Temporarily unavailable')
      expect((await call(server, 'POST', '/authz/v1/stores', reader, store)).status).toBe(403)
    } finally {
      await release()
    }
    const created = await call(server, 'POST', '/authz/v1/stores', admin, store)
    expect({ status: created.status, body: created.body }).toEqual({
      status: 201,
      body: { name: 'locked', version: 1 },
    })
  })
})

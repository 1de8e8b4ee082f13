import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The policy decision point over HTTP: store management and versions, the native check API,
 * OpenID AuthZEN, caller authentication, and propagation of a commit to a second instance.
 */
const RBAC_POLICY = `
p, reader, doc1, read
p, writer, doc1, write
g, alice, writer
g, writer, reader
g, bob, reader
`

let server: TestServer
let admin: string
let checker: string
let tenantA: string
let noScope: string
let bystander: string

beforeAll(async () => {
  server = await startTestServer()
  await registerServiceClients(server, [
    { id: 'policy-admin', scope: 'authz:admin authz:check' },
    { id: 'pep', scope: 'authz:check' },
    { id: 'tenant-a', scope: 'authz:check', authz_stores: ['tenant-a'] },
    { id: 'bystander', scope: 'audit:read' },
  ])
  admin = await apiToken(server, 'policy-admin', 'authz:admin authz:check')
  checker = await apiToken(server, 'pep', 'authz:check')
  tenantA = await apiToken(server, 'tenant-a', 'authz:check')
  noScope = (
    await call(server, 'POST', '/token', undefined, 'grant_type=client_credentials', {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from('bystander:bystander-secret-0123456789abcdef').toString('base64')}`,
    })
  ).body.access_token
  bystander = await apiToken(server, 'bystander', 'audit:read')
  const created = await call(server, 'POST', '/authz/v1/stores', admin, {
    name: 'docs',
    model: 'rbac.conf',
    policy: RBAC_POLICY,
    reason: 'initial',
  })
  expect(created.status).toBe(201)
  expect(created.body).toEqual({ name: 'docs', version: 1 })
})
afterAll(async () => {
  await server?.close()
})

describe('native check API', () => {
  it('answers allowed, the version used and the matched line', async () => {
    const r = await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request: ['alice', 'doc1', 'read'] })
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ allowed: true, version: 1, matched: ['reader', 'doc1', 'read'] })
    const denied = await call(server, 'POST', '/authz/v1/stores/docs/check', checker, {
      request: ['bob', 'doc1', 'write'],
    })
    expect(denied.body).toMatchObject({ allowed: false, version: 1 })
  })

  it('batch checks answer in order', async () => {
    const r = await call(server, 'POST', '/authz/v1/stores/docs/check/batch', checker, {
      requests: [
        ['alice', 'doc1', 'write'],
        ['bob', 'doc1', 'write'],
        ['bob', 'doc1', 'read'],
      ],
    })
    expect(r.status).toBe(200)
    expect(r.body.version).toBe(1)
    expect(r.body.results.map((x: { allowed: boolean }) => x.allowed)).toEqual([true, false, true])
  })

  it('lists what a subject can do and who holds a role', async () => {
    const perms = await call(server, 'GET', '/authz/v1/stores/docs/subjects/alice/permissions', checker)
    expect(perms.body.permissions).toEqual(
      expect.arrayContaining([
        ['writer', 'doc1', 'write'],
        ['reader', 'doc1', 'read'],
      ]),
    )
    const users = await call(server, 'GET', '/authz/v1/stores/docs/roles/reader/users', checker)
    expect(users.body.users.sort()).toEqual(['alice', 'bob', 'writer'])
  })

  it('rejects malformed requests with a 400 naming the problem', async () => {
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request: ['alice', 'doc1'] })).body
        .error_description,
    ).toMatch(/3 elements/)
    expect((await call(server, 'POST', '/authz/v1/stores/docs/check', checker, '{"request": [')).status).toBe(400)
    expect((await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { req: [] })).status).toBe(400)
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/docs/check', checker, 'request=x', {
          'content-type': 'text/plain',
        })
      ).status,
    ).toBe(415)
    expect(
      (await call(server, 'POST', '/authz/v1/stores/nope/check', checker, { request: ['a', 'b', 'c'] })).status,
    ).toBe(404)
  })
})

describe('caller authentication', () => {
  it("401 without a token or with a bad one, 403 without the scope, 403 for another tenant's store", async () => {
    const anon = await call(server, 'POST', '/authz/v1/stores/docs/check', undefined, {
      request: ['alice', 'doc1', 'read'],
    })
    expect(anon.status).toBe(401)
    expect(anon.headers.get('www-authenticate')).toMatch(/^Bearer realm="portcullis"/)
    const forged = admin.slice(0, -4) + (admin.endsWith('AAAA') ? 'BBBB' : 'AAAA')
    const bad = await call(server, 'POST', '/authz/v1/stores/docs/check', forged, {
      request: ['alice', 'doc1', 'read'],
    })
    expect(bad.status).toBe(401)
    expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"')
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', 'not-a-token', { request: ['a', 'b', 'c'] })).status,
    ).toBe(401)
    expect(noScope).toBeTruthy()
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', noScope, { request: ['a', 'b', 'c'] })).status,
    ).toBe(401) // opaque token, not for our API
    const wrongScope = await call(server, 'POST', '/authz/v1/stores', checker, { name: 'x', model: 'acl.conf' })
    expect(wrongScope.status).toBe(403)
    expect(wrongScope.headers.get('www-authenticate')).toContain('insufficient_scope')
    const other = await call(server, 'POST', '/authz/v1/stores/docs/check', tenantA, {
      request: ['alice', 'doc1', 'read'],
    })
    expect(other.status).toBe(403)
    expect(
      (await call(server, 'GET', '/authz/v1/stores', tenantA)).body.stores.map((s: { name: string }) => s.name),
    ).not.toContain('docs')
  })
})

describe('versions', () => {
  it('commits changes as new versions, diffs, exports CSV and rolls back', async () => {
    const before = (await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version as number
    const v = await call(server, 'POST', '/authz/v1/stores/docs/versions', admin, {
      add: [['g', 'carol', 'writer']],
      remove: [['g', 'bob', 'reader']],
      reason: 'carol joins, bob leaves',
    })
    expect(v.status).toBe(201)
    expect(v.body).toEqual({ name: 'docs', version: before + 1, changed: true })
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request: ['carol', 'doc1', 'write'] }))
        .body,
    ).toMatchObject({ allowed: true, version: before + 1 })
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request: ['bob', 'doc1', 'read'] })).body
        .allowed,
    ).toBe(false)

    const list = await call(server, 'GET', '/authz/v1/stores/docs/versions', admin)
    expect(list.body.versions[0]).toMatchObject({
      version: before + 1,
      author: 'client:policy-admin',
      reason: 'carol joins, bob leaves',
    })
    const diff = await call(server, 'GET', `/authz/v1/stores/docs/diff?from=${before}&to=${before + 1}`, admin)
    expect(diff.body).toMatchObject({
      added: [['g', 'carol', 'writer']],
      removed: [['g', 'bob', 'reader']],
      model_changed: false,
    })
    const csv = await fetch(`${server.url}/authz/v1/stores/docs/versions/${before}/policy.csv`, {
      headers: { authorization: `Bearer ${admin}` },
    })
    expect(csv.headers.get('content-type')).toMatch(/text\/csv/)
    expect(await csv.text()).toContain('g, bob, reader')

    const back = await call(server, 'POST', '/authz/v1/stores/docs/rollback', admin, { to: before, reason: 'undo' })
    expect(back.status).toBe(201)
    expect(back.body.version).toBe(before + 2)
    expect(
      (await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request: ['bob', 'doc1', 'read'] })).body,
    ).toMatchObject({ allowed: true, version: before + 2 })
  })

  it('an unchanged change commits nothing; a stale If-Match is a 409', async () => {
    const cur = (await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version as number
    const same = await call(server, 'POST', '/authz/v1/stores/docs/versions', admin, {
      add: [['p', 'reader', 'doc1', 'read']],
    })
    expect(same.body).toEqual({ name: 'docs', version: cur, changed: false })
    const stale = await call(
      server,
      'POST',
      '/authz/v1/stores/docs/versions',
      admin,
      { add: [['p', 'x', 'y', 'z']] },
      { 'if-match': `"${cur - 1}"` },
    )
    expect(stale.status).toBe(409)
  })

  it('refuses invalid changes with a 400 naming the problem, and commits nothing', async () => {
    const cur = (await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version as number
    const bad = [
      { remove: [['p', 'nobody', 'doc9', 'read']] },
      { model: '[request_definition]\nr = sub, obj, act\n[matchers]\nm = r.sub ==' },
      { model: 'no-such-model.conf' },
      { policy: 'p, "unterminated' },
      {},
      { add: [['p']] },
    ]
    for (const body of bad) {
      const r = await call(server, 'POST', '/authz/v1/stores/docs/versions', admin, body)
      expect(r.status, JSON.stringify(body)).toBe(400)
      expect(r.body.error_description, JSON.stringify(body)).toBeTruthy()
    }
    expect((await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version).toBe(cur)
    expect(
      (await call(server, 'POST', '/authz/v1/stores', admin, { name: 'Bad Name', model: 'acl.conf' })).status,
    ).toBe(400)
    const dup = await call(server, 'POST', '/authz/v1/stores', admin, { name: 'docs', model: 'acl.conf' })
    expect(dup.status, JSON.stringify(dup.body)).toBe(409)
  })
})

describe('validation before commit', () => {
  it('refuses a line of the wrong arity and a pattern that would hang the matcher, naming the line', async () => {
    // node-casbin 5.51.1 loops forever in keyMatch2(x, "/:/all"); such a store must never be committed
    const hazard = await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'rest-api',
      model: 'restful.conf',
      policy: 'p, alice, /orders/:id, GET\np, bob, /:/all, GET',
    })
    expect(hazard.status, JSON.stringify(hazard.body)).toBe(400)
    expect(JSON.stringify(hazard.body)).toMatch(/line 2/)
    expect(JSON.stringify(hazard.body)).toContain('/:/all')
    expect((await call(server, 'GET', '/authz/v1/stores/rest-api', admin)).status).toBe(404)

    const cur = (await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version as number
    const arity = await call(server, 'POST', '/authz/v1/stores/docs/versions', admin, { add: [['p', 'carol', 'doc1']] })
    expect(arity.status, JSON.stringify(arity.body)).toBe(400)
    expect(JSON.stringify(arity.body)).toMatch(/line \d+/)
    expect((await call(server, 'GET', '/authz/v1/stores/docs', admin)).body.version).toBe(cur)

    // the same store without the hazardous line is accepted and answers through keyMatch2
    const ok = await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'rest-api',
      model: 'restful.conf',
      policy: 'p, alice, /orders/:id, GET',
    })
    expect(ok.status, JSON.stringify(ok.body)).toBe(201)
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/rest-api/check', checker, {
          request: ['alice', '/orders/42', 'GET'],
        })
      ).body.allowed,
    ).toBe(true)
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/rest-api/check', checker, {
          request: ['alice', '/orders/42', 'DELETE'],
        })
      ).body.allowed,
    ).toBe(false)
  })
})

describe('decision fast lane', () => {
  // Decision requests with a Content-Length and an access token are answered ahead of Koa
  // (src/http/decision-lane.ts); a chunked body takes the Koa route. Both must answer alike.
  async function both(path: string, body: unknown, token = checker) {
    const text = JSON.stringify(body)
    const headers = {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-request-id': 'lane-test-1',
    }
    const lane = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: text })
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text))
        c.close()
      },
    })
    const koa = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers,
      body: chunked,
      duplex: 'half',
    } as RequestInit)
    return {
      lane: { status: lane.status, headers: lane.headers, body: (await lane.json()) as Record<string, unknown> },
      koa: { status: koa.status, headers: koa.headers, body: (await koa.json()) as Record<string, unknown> },
    }
  }
  const stable = (h: Headers) =>
    Object.fromEntries(
      [...h].filter(([k]) => !['date', 'server-timing', 'content-length', 'connection', 'keep-alive'].includes(k)),
    )

  it('answers decisions with the same body and headers as the Koa routes', async () => {
    const cases: [string, unknown][] = [
      [
        '/access/v1/evaluation',
        {
          subject: { type: 'user', id: 'alice' },
          action: { name: 'read' },
          resource: { type: 'doc', id: 'doc1' },
          context: { store: 'docs' },
        },
      ],
      [
        '/access/v1/evaluations',
        {
          subject: { type: 'user', id: 'alice' },
          context: { store: 'docs' },
          evaluations: [
            { action: { name: 'read' }, resource: { type: 'doc', id: 'doc1' } },
            { action: { name: 'write' }, resource: { type: 'doc', id: 'doc1' } },
          ],
        },
      ],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }],
      [
        '/authz/v1/stores/docs/check/batch',
        {
          requests: [
            ['alice', 'doc1', 'read'],
            ['bob', 'doc1', 'write'],
          ],
        },
      ],
    ]
    for (const [path, body] of cases) {
      const r = await both(path, body)
      expect(r.lane.status, path).toBe(200)
      expect(r.lane.body, path).toEqual(r.koa.body)
      expect(stable(r.lane.headers), path).toEqual(stable(r.koa.headers))
      expect(r.lane.headers.get('x-request-id')).toBe('lane-test-1')
      expect(r.lane.headers.get('server-timing')).toMatch(/^pdp;dur=\d+\.\d{3}$/)
    }
    expect((await both('/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] })).lane.body.allowed).toBe(
      true,
    )
  })

  it('leaves every error to the Koa routes, in their error shape', async () => {
    const cases: [string, unknown, number, string?][] = [
      ['/access/v1/evaluation', { subject: { id: 'alice' } }, 400],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1'] }, 400],
      ['/authz/v1/stores/nope/check', { request: ['alice', 'doc1', 'read'] }, 404],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }, 403, tenantA],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }, 401, noScope],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }, 403, bystander],
      ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }, 401, 'a.b.c'],
    ]
    for (const [path, body, status, token] of cases) {
      const r = await both(path, body, token)
      expect(r.lane.status, `${path} ${JSON.stringify(body)}`).toBe(status)
      expect(r.lane.body).toEqual(r.koa.body)
      expect(r.lane.body.error).toEqual(expect.any(String))
    }
    const bad = await fetch(`${server.url}/authz/v1/stores/docs/check`, {
      method: 'POST',
      headers: { authorization: `Bearer ${checker}`, 'content-type': 'application/json' },
      body: '{"request": [',
    })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toEqual({ error: 'invalid_json', error_description: 'request body is not valid JSON' })
  })
})

describe('OpenID AuthZEN 1.0', () => {
  it('publishes PDP metadata', async () => {
    const r = await call(server, 'GET', '/.well-known/authzen-configuration')
    expect(r.body).toEqual({
      policy_decision_point: server.url,
      access_evaluation_endpoint: `${server.url}/access/v1/evaluation`,
      access_evaluations_endpoint: `${server.url}/access/v1/evaluations`,
      search_subject_endpoint: `${server.url}/access/v1/search/subject`,
      search_resource_endpoint: `${server.url}/access/v1/search/resource`,
      search_action_endpoint: `${server.url}/access/v1/search/action`,
    })
  })

  it('evaluates a stock AuthZEN request, echoing X-Request-ID', async () => {
    const r = await call(
      server,
      'POST',
      '/access/v1/evaluation',
      checker,
      {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'write' },
        resource: { type: 'document', id: 'doc1' },
        context: { store: 'docs' },
      },
      { 'x-request-id': 'pep-123' },
    )
    expect(r.status).toBe(200)
    expect(r.headers.get('x-request-id')).toBe('pep-123')
    expect(r.body.decision).toBe(true)
    expect(r.body.context).toMatchObject({ store: 'docs' })
    const no = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'mallory' },
      action: { name: 'write' },
      resource: { type: 'document', id: 'doc1' },
      context: { store: 'docs' },
    })
    expect(no.body.decision).toBe(false)
  })

  it('batch evaluations with defaults and each evaluations_semantic', async () => {
    const base = {
      subject: { type: 'user', id: 'bob' },
      resource: { type: 'document', id: 'doc1' },
      context: { store: 'docs' },
    }
    const evaluations = [
      { action: { name: 'read' } },
      { action: { name: 'write' } },
      { action: { name: 'read' }, subject: { type: 'user', id: 'alice' } },
    ]
    const all = await call(server, 'POST', '/access/v1/evaluations', checker, { ...base, evaluations })
    expect(all.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false, true])
    const deny = await call(server, 'POST', '/access/v1/evaluations', checker, {
      ...base,
      evaluations,
      options: { evaluations_semantic: 'deny_on_first_deny' },
    })
    expect(deny.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true, false])
    const permit = await call(server, 'POST', '/access/v1/evaluations', checker, {
      ...base,
      evaluations,
      options: { evaluations_semantic: 'permit_on_first_permit' },
    })
    expect(permit.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual([true])
    const single = await call(server, 'POST', '/access/v1/evaluations', checker, { ...base, action: { name: 'read' } })
    expect(single.body.decision).toBe(true)
  })

  it('rejects malformed AuthZEN requests with 400 and unauthenticated ones with 401', async () => {
    expect(
      (
        await call(server, 'POST', '/access/v1/evaluation', checker, {
          subject: { id: 'alice' },
          action: { name: 'read' },
          resource: { type: 'd', id: 'doc1' },
        })
      ).status,
    ).toBe(400)
    // an entry without a subject (and no default) is that entry's error, not the batch's
    const incomplete = await call(server, 'POST', '/access/v1/evaluations', checker, {
      evaluations: [{ action: { name: 'read' } }],
    })
    expect(incomplete.status).toBe(200)
    expect(incomplete.body.evaluations[0]).toMatchObject({ decision: false, context: { error: { status: 400 } } })
    expect(
      (
        await call(server, 'POST', '/access/v1/evaluations', checker, {
          subject: { type: 'u', id: 'a' },
          action: { name: 'r' },
          resource: { type: 'd', id: 'x' },
          options: { evaluations_semantic: 'sometimes' },
        })
      ).status,
    ).toBe(400)
    expect(
      (
        await call(server, 'POST', '/access/v1/evaluation', undefined, {
          subject: { type: 'u', id: 'a' },
          action: { name: 'r' },
          resource: { type: 'd', id: 'x' },
        })
      ).status,
    ).toBe(401)
  })

  it('maps AuthZEN onto domain models and ABAC models', async () => {
    await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'tenants',
      model: 'rbac-with-domains.conf',
      policy: 'p, admin, acme, invoices, read\ng, alice, admin, acme',
    })
    const inDomain = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'invoices', id: 'invoices' },
      context: { store: 'tenants', domain: 'acme' },
    })
    expect(inDomain.body.decision).toBe(true)
    const otherDomain = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'invoices', id: 'invoices' },
      context: { store: 'tenants', domain: 'globex' },
    })
    expect(otherDomain.body.decision).toBe(false)

    await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'owners',
      model: 'abac.conf',
      policy: 'p, bob, report-7, read',
    })
    const owner = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'carol' },
      action: { name: 'delete' },
      resource: { type: 'doc', id: 'report-9', properties: { owner: 'carol' } },
      context: { store: 'owners' },
    })
    expect(owner.body.decision).toBe(true)
    const stranger = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'dave' },
      action: { name: 'delete' },
      resource: { type: 'doc', id: 'report-9', properties: { owner: 'carol' } },
      context: { store: 'owners' },
    })
    expect(stranger.body.decision).toBe(false)
    const listed = await call(server, 'POST', '/access/v1/evaluation', checker, {
      subject: { type: 'user', id: 'bob' },
      action: { name: 'read' },
      resource: { type: 'doc', id: 'report-7', properties: { owner: 'carol' } },
      context: { store: 'owners' },
    })
    expect(listed.body.decision).toBe(true)
  })
})

const twoInstances = [
  { name: 'SQLite, database polling', skip: false, kind: 'sqlite' as const, redis: undefined as string | undefined },
  {
    name: 'PostgreSQL + Redis pub/sub',
    skip: !pgTestUrl() || !redisTestUrl(),
    kind: 'postgresql' as const,
    redis: redisTestUrl(),
  },
]
if (!pgTestUrl() || !redisTestUrl())
  console.warn('policy propagation on PostgreSQL + Redis skipped: set TEST_DATABASE_URL and TEST_REDIS_URL')

describe.each(twoInstances)('a commit reaches a second instance without a restart ($name)', ({ skip, kind, redis }) => {
  it.skipIf(skip)('propagates', async () => {
    const first = await startTestServer({ kind, redisUrl: redis })
    const second = await startTestServer({
      kind,
      redisUrl: redis,
      db: first.db,
      masterKey: first.config.PORTCULLIS_MASTER_KEY,
      env: redis ? { REDIS_PREFIX: first.config.REDIS_PREFIX } : {},
    })
    try {
      await registerServiceClients(first, [{ id: 'ops', scope: 'authz:admin authz:check' }])
      const token1 = await apiToken(first, 'ops', 'authz:admin authz:check')
      const token2 = await apiToken(second, 'ops', 'authz:admin authz:check')
      expect(
        (
          await call(first, 'POST', '/authz/v1/stores', token1, {
            name: 'shared',
            model: 'acl.conf',
            policy: 'p, alice, a, read',
          })
        ).status,
      ).toBe(201)
      // The bound is generous because the machine may be loaded; the propagation interval itself
      // (pub/sub, or the poll period) is measured in bench/, never asserted on the clock here.
      await waitFor(
        async () =>
          (await call(second, 'POST', '/authz/v1/stores/shared/check', token2, { request: ['alice', 'a', 'read'] }))
            .body?.allowed === true,
        15_000,
      )
      await call(first, 'POST', '/authz/v1/stores/shared/versions', token1, { add: [['p', 'bob', 'a', 'read']] })
      await waitFor(
        async () =>
          (await call(second, 'POST', '/authz/v1/stores/shared/check', token2, { request: ['bob', 'a', 'read'] })).body
            ?.allowed === true,
        15_000,
      )
      expect(
        (await call(second, 'POST', '/authz/v1/stores/shared/check', token2, { request: ['bob', 'a', 'read'] })).body
          .version,
      ).toBe(2)
    } finally {
      await second.close()
      await first.close()
    }
  })
})

async function waitFor(cond: () => Promise<boolean>, ms: number) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 25))
  }
  throw new Error(`condition not met within ${ms} ms`)
}

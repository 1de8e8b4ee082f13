import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * Exactness of the decision APIs (issue 10 §2): native request tuples hold strings (objects
 * only where the store takes them), AuthZEN's X-Request-ID is echoed as sent, and one bad
 * entry of /access/v1/evaluations is that entry's denial, not the batch's failure. Every
 * decision route is answered by two paths (the decision lane ahead of Koa for a JWT with a
 * Content-Length, Koa for anything else); each behaviour is checked on both.
 */
let server: TestServer
let admin: string
let checker: string
let tenantA: string
const logs: string[] = []

beforeAll(async () => {
  server = await startTestServer({ logSink: logs })
  await registerServiceClients(server, [
    { id: 'policy-admin', scope: 'authz:admin authz:check' },
    { id: 'pep', scope: 'authz:check' },
    { id: 'tenant-a', scope: 'authz:check', authz_stores: ['tenant-a'] },
  ])
  admin = await apiToken(server, 'policy-admin', 'authz:admin authz:check')
  checker = await apiToken(server, 'pep', 'authz:check')
  tenantA = await apiToken(server, 'tenant-a', 'authz:check')
  const stores = [
    {
      name: 'docs',
      model: 'acl.conf',
      policy: 'p, alice, /data/1, read\np, 1, /data/1, read\np, true, /data/1, read\np, null, /data/1, read',
    },
    {
      name: 'json-req',
      model:
        '[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub_rule, obj, act\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = eval(p.sub_rule) && r.obj == p.obj && r.act == p.act',
      policy: 'p, "r.sub.Age > 18", /data/1, read',
      options: { accept_json_request: true },
    },
    { name: 'owners', model: 'abac.conf', policy: 'p, bob, report-7, read' },
  ]
  for (const s of stores) {
    const r = await call(server, 'POST', '/authz/v1/stores', admin, s)
    expect(r.status, JSON.stringify(r.body)).toBe(201)
  }
})
afterAll(async () => {
  await server?.close()
})

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = { status: number; headers: Headers; body: Record<string, any> }
/** The same request through the decision lane (Content-Length, JWT) and through Koa (chunked body). */
async function both(
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
  token = checker,
): Promise<{ lane: Answer; koa: Answer }> {
  const text = JSON.stringify(body)
  const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }
  const lane = await fetch(`${server.url}${path}`, { method: 'POST', headers: h, body: text })
  const chunked = new ReadableStream({
    start(c) {
      c.enqueue(new TextEncoder().encode(text))
      c.close()
    },
  })
  const koa = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: h,
    body: chunked,
    duplex: 'half',
  } as RequestInit)
  return {
    lane: { status: lane.status, headers: lane.headers, body: (await lane.json()) as Answer['body'] },
    koa: { status: koa.status, headers: koa.headers, body: (await koa.json()) as Answer['body'] },
  }
}

describe('native check: request elements are strings', () => {
  it('refuses [["alice"], "/data/1", "read"] on both paths, naming the element', async () => {
    const r = await both('/authz/v1/stores/docs/check', { request: [['alice'], '/data/1', 'read'] })
    for (const a of [r.lane, r.koa]) {
      expect(a.status).toBe(400)
      expect(a.body.error_description).toMatch(/^request\[0\] must be a string/)
    }
    expect(
      (await both('/authz/v1/stores/docs/check', { request: ['alice', '/data/1', 'read'] })).lane.body.allowed,
    ).toBe(true)
  })

  it('names the tuple and the element in a batch', async () => {
    const r = await both('/authz/v1/stores/docs/check/batch', {
      requests: [
        ['alice', '/data/1', 'read'],
        ['alice', '/data/1', 7],
      ],
    })
    for (const a of [r.lane, r.koa]) {
      expect(a.status).toBe(400)
      expect(a.body.error_description).toMatch(/^requests\[1\]\[2\] must be a string/)
    }
  })

  it('property: any tuple with a number, null, boolean, array (or object where the store takes none) is a 400 naming its index', async () => {
    const bad = fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constant(null),
      fc.boolean(),
      fc.array(fc.string(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })),
    )
    const good = fc.constantFrom('alice', '1', 'true', 'null', '/data/1', 'read')
    const tuple = fc
      .tuple(fc.array(good, { minLength: 3, maxLength: 3 }), fc.integer({ min: 0, max: 2 }), bad)
      .map(([t, i, v]) => ({ request: t.map((x, j) => (j === i ? v : x)) as unknown[], index: i }))
    await fc.assert(
      fc.asyncProperty(tuple, async ({ request, index }) => {
        const r = await call(server, 'POST', '/authz/v1/stores/docs/check', checker, { request })
        expect(r.status).toBe(400)
        expect(r.body.error_description).toMatch(new RegExp(`^request\\[${index}\\] must be a string`))
      }),
      { numRuns: 40 },
    )
  })

  it('takes objects where the store accepts JSON requests or reads attributes, and refuses other kinds there', async () => {
    const adult = await call(server, 'POST', '/authz/v1/stores/json-req/check', checker, {
      request: [{ Age: 30 }, '/data/1', 'read'],
    })
    expect(adult.status, JSON.stringify(adult.body)).toBe(200)
    expect(adult.body.allowed).toBe(true)
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/json-req/check', checker, {
          request: ['{"Age": 12}', '/data/1', 'read'],
        })
      ).body.allowed,
    ).toBe(false)
    const arr = await call(server, 'POST', '/authz/v1/stores/json-req/check', checker, {
      request: [[{ Age: 30 }], '/data/1', 'read'],
    })
    expect(arr.status).toBe(400)
    expect(arr.body.error_description).toMatch(/^request\[0\] must be a string or an object/)
    // abac.conf reads r.sub.id, r.obj.owner and r.act.name: objects there, but never arrays
    const sub = { id: 'carol' }
    const obj = { id: 'report-9', owner: 'carol' }
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/owners/check', checker, {
          request: [sub, obj, { name: 'delete' }],
        })
      ).body.allowed,
    ).toBe(true)
    expect(
      (
        await call(server, 'POST', '/authz/v1/stores/owners/check', checker, {
          request: [{ id: 'dave' }, obj, { name: 'delete' }],
        })
      ).body.allowed,
    ).toBe(false)
    const listed = await call(server, 'POST', '/authz/v1/stores/owners/check', checker, {
      request: [sub, [obj], { name: 'delete' }],
    })
    expect(listed.status).toBe(400)
    expect(listed.body.error_description).toMatch(/^request\[1\] must be a string or an object/)
  })
})

describe('AuthZEN X-Request-ID', () => {
  const evaluation = {
    subject: { type: 'user', id: 'alice' },
    action: { name: 'read' },
    resource: { type: 'doc', id: '/data/1' },
    context: { store: 'docs' },
  }

  it('echoes any printable id up to 256 characters exactly, on both paths', async () => {
    const ids = [
      'a b<script>',
      'trace=1; span="x"',
      `req/${'x'.repeat(250)}`,
      '{"json":true}',
      '550e8400-e29b-41d4-a716-446655440000',
    ]
    for (const id of ids) {
      const r = await both('/access/v1/evaluation', evaluation, { 'x-request-id': id })
      expect(r.lane.status).toBe(200)
      expect(r.lane.headers.get('x-request-id'), 'lane').toBe(id)
      expect(r.koa.headers.get('x-request-id'), 'koa').toBe(id)
      const e = await both('/access/v1/evaluations', { ...evaluation, evaluations: [{}] }, { 'x-request-id': id })
      expect(e.lane.headers.get('x-request-id')).toBe(id)
      expect(e.koa.headers.get('x-request-id')).toBe(id)
    }
  })

  it('property: every printable id of 1-256 characters comes back as sent', async () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 256,
    })
    await fc.assert(
      fc.asyncProperty(printable, async (id) => {
        const r = await call(server, 'POST', '/access/v1/evaluation', checker, evaluation, { 'x-request-id': id })
        expect(r.headers.get('x-request-id')).toBe(id)
      }),
      { numRuns: 30 },
    )
  })

  it('replaces a too long id with our own and keeps logged ids plain', async () => {
    const long = 'y'.repeat(257)
    const r = await both('/access/v1/evaluation', evaluation, { 'x-request-id': long })
    for (const a of [r.lane, r.koa]) expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const none = await both('/access/v1/evaluation', evaluation)
    for (const a of [none.lane, none.koa]) expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    await both('/access/v1/evaluation', evaluation, { 'x-request-id': 'evil" <b>id' })
    const lines = logs
      .map((l) => JSON.parse(l) as { msg?: string; requestId?: string })
      .filter((l) => l.msg === 'request' && l.requestId?.startsWith('evil'))
    expect(lines.length).toBe(2) // lane and Koa
    for (const l of lines) expect(l.requestId).toBe('evil%22%20%3Cb%3Eid')
  })
})

describe("AuthZEN evaluations: an error in one entry is that entry's denial", () => {
  it('answers every entry, with the error of a bad one in its context, on both paths', async () => {
    const body = {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      context: { store: 'docs' },
      evaluations: [
        { resource: { type: 'doc', id: '/data/1' } },
        { resource: { type: 'doc', id: '/data/1' }, context: { store: 'no-such-store' } },
        { resource: { type: 'doc' } },
        { action: { name: 'read' } },
        'not an object',
        { resource: { type: 'doc', id: '/data/2' } },
        { resource: { type: 'doc', id: '/data/1' }, context: { store: 'tenant-a' } },
      ],
    }
    const r = await both('/access/v1/evaluations', body)
    expect(r.lane.status).toBe(200)
    expect(r.lane.body).toEqual(r.koa.body)
    const e = r.lane.body.evaluations as {
      decision: boolean
      context?: { error?: { status: number; message: string } }
    }[]
    expect(e.map((x) => x.decision)).toEqual([true, false, false, false, false, false, false])
    expect(e[0]!.context).toEqual({ store: 'docs', version: 1 })
    expect(e[1]!.context!.error).toMatchObject({ status: 404, message: 'no policy store no-such-store' })
    expect(e[2]!.context!.error).toMatchObject({
      status: 400,
      message: expect.stringContaining('evaluations[2].resource.id'),
    })
    expect(e[3]!.context!.error).toMatchObject({
      status: 400,
      message: expect.stringContaining('evaluations[3] has no resource'),
    })
    expect(e[4]!.context!.error).toMatchObject({ status: 400, message: expect.stringContaining('evaluations[4]') })
    expect(e[5]!.context).toEqual({ store: 'docs', version: 1 }) // a plain denial has no error
    expect(e[6]!.context!.error).toMatchObject({ status: 404 }) // tenant-a does not exist
  })

  it("a store the caller may not use is that entry's 403, not the batch's", async () => {
    const r = await both(
      '/access/v1/evaluations',
      {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        resource: { type: 'doc', id: '/data/1' },
        evaluations: [{ context: { store: 'docs' } }, { context: { store: 'tenant-a' } }],
      },
      {},
      tenantA,
    )
    for (const a of [r.lane, r.koa]) {
      expect(a.status).toBe(200)
      expect(a.body.evaluations[0]).toMatchObject({ decision: false, context: { error: { status: 403 } } })
      expect(a.body.evaluations[1]).toMatchObject({ decision: false, context: { error: { status: 404 } } })
    }
  })

  it('an erroring entry counts as a denial for deny_on_first_deny', async () => {
    const r = await both('/access/v1/evaluations', {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'doc', id: '/data/1' },
      evaluations: [{ context: { store: 'docs' } }, { context: { store: 'gone' } }, { context: { store: 'docs' } }],
      options: { evaluations_semantic: 'deny_on_first_deny' },
    })
    for (const a of [r.lane, r.koa])
      expect(a.body.evaluations.map((x: { decision: boolean }) => x.decision)).toEqual([true, false])
  })

  it("a non-string value mapped onto a plain token (e.g. a domain given as an array) is that entry's 400", async () => {
    await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'tenants',
      model: 'rbac-with-domains.conf',
      policy: 'p, admin, acme, invoices, read\ng, alice, admin, acme',
    })
    const base = {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'invoices', id: 'invoices' },
    }
    const r = await both('/access/v1/evaluations', {
      ...base,
      evaluations: [
        { context: { store: 'tenants', domain: 'acme' } },
        { context: { store: 'tenants', domain: ['acme'] } },
        { context: { store: 'tenants', domain: 7 } },
      ],
    })
    for (const a of [r.lane, r.koa]) {
      expect(a.body.evaluations.map((x: { decision: boolean }) => x.decision)).toEqual([true, false, false])
      expect(a.body.evaluations[1].context.error).toMatchObject({
        status: 400,
        message: expect.stringContaining('"dom" must be a string'),
      })
    }
    const single = await both('/access/v1/evaluation', { ...base, context: { store: 'tenants', domain: ['acme'] } })
    for (const a of [single.lane, single.koa]) expect(a.status).toBe(400)
  })

  it('a malformed request as a whole is still a 400', async () => {
    const r = await both('/access/v1/evaluations', { evaluations: 'all of them' })
    for (const a of [r.lane, r.koa]) expect(a.status).toBe(400)
  })
})

import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { rawExchange, rawRequest } from '../helpers/raw-http.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { declaredRoutes } from '../../src/app.ts'
import { JSON_MAX_DEPTH } from '../../src/http/body.ts'
import { testAction } from '../helpers/audit-actions.ts'

/**
 * Issue 16 §4 / issue 13 §3: hostile strings that reach storage (NUL, lone surrogates, invalid
 * UTF-8) are a 400 at the edge on every route, ours and oidc-provider's, and nothing a caller
 * sends is a 5xx or a hang. Routes come from the route declarations (our routers' tables and
 * oidc-provider's discovery document), so a new endpoint is covered without anyone listing it.
 * The same holds for wrong JSON types, deep nesting and prototype-pollution keys on every JSON
 * route, and for CR/LF, NUL and obs-fold in request headers written as raw bytes.
 * Seeded and bounded; FUZZ_RUNS=N for a longer run.
 */

const RUNS = Number(process.env.FUZZ_RUNS ?? 1500)
const SEED = Number(process.env.FUZZ_SEED ?? 1602)

interface Route {
  method: string
  path: string
}

/** UTF-8 percent-encoding that keeps lone surrogates (as their 3-byte WTF-8 form, which is not UTF-8). */
function pct(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    const pair =
      c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff
    const cp = pair ? s.codePointAt(i)! : c
    if (pair) i++
    if (cp < 0x80 && /[A-Za-z0-9\-._~]/.test(String.fromCharCode(cp))) {
      out += String.fromCharCode(cp)
      continue
    }
    const bytes =
      cp < 0x80
        ? [cp]
        : cp < 0x800
          ? [0xc0 | (cp >> 6), 0x80 | (cp & 63)]
          : cp < 0x10000
            ? [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
            : [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)]
    out += bytes.map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('')
  }
  return out
}

// A value that reaches a handler as text: either storable (odd but legitimate) or hostile.
type Value = { kind: 'text'; text: string } | { kind: 'bytes'; bytes: number[] }
const hostileText = (s: string) =>
  s.includes('\u0000') || /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s)
const invalidUtf8 = (b: number[]) => b.includes(0) || !isUtf8(b)
function isUtf8(b: number[]) {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(b))
    return true
  } catch {
    return false
  }
}
const hostile = (v: Value) => (v.kind === 'text' ? hostileText(v.text) : invalidUtf8(v.bytes))
const encoded = (v: Value) =>
  v.kind === 'text' ? pct(v.text) : v.bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')

const odd = fc.constantFrom(
  '',
  'é',
  '中文',
  '👩‍💻',
  '\u202egnp.exe',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '__proto__',
  'constructor',
  'a'.repeat(5000),
  '%00',
  '\\u0000',
  'null',
  '{"$ne":null}',
  'localhost:99999',
  ' ',
  '\t\r\n',
)
const poison = fc.constantFrom(
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  'ann@example.com\u0000',
  'é\u0000中',
)
const value: fc.Arbitrary<Value> = fc.oneof(
  odd.map((text) => ({ kind: 'text' as const, text })),
  poison.map((text) => ({ kind: 'text' as const, text })),
  fc.string({ unit: 'binary', maxLength: 24 }).map((text) => ({ kind: 'text' as const, text })),
  fc
    .oneof(
      fc.constantFrom(
        [0xc3, 0x28],
        [0xff],
        [0xed, 0xa0, 0x80],
        [0xc0, 0xaf],
        [0xe2, 0x82],
        [0x00],
        [0xf8, 0x88, 0x80, 0x80, 0x80],
      ),
      fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 }),
    )
    .map((bytes) => ({ kind: 'bytes' as const, bytes: [...bytes] })),
)

const FIELDS = [
  'client_id',
  'client_secret',
  'grant_type',
  'scope',
  'resource',
  'token',
  'token_type_hint',
  'redirect_uri',
  'response_type',
  'state',
  'nonce',
  'code',
  'code_verifier',
  'user_code',
  'xsrf',
  'email',
  'password',
  'name',
  'owner',
  'scopes',
  'actor',
  'action',
  'target',
  'outcome',
  'from',
  'to',
  'cursor',
  'limit',
  'days',
  'domain',
  'done',
  'error',
  'login_hint',
  'post_logout_redirect_uri',
  'request_uri',
  'model',
  'policy',
  'description',
  'reason',
  'csrf',
  'level',
  'expires_in',
]

/** A request: the route, where the value goes, and the value. */
const request = (routes: Route[]) =>
  fc.record({
    route: fc.constantFrom(...routes),
    where: fc.constantFrom('path', 'query', 'form', 'json', 'json-raw'),
    field: fc.constantFrom(...FIELDS),
    value,
    authenticated: fc.boolean(),
  })

/** Each request is bounded (the whole exchange): a hang fails the property instead of stalling it. */
const REQUEST_TIMEOUT_MS = 15_000
const send = (server: TestServer, method: string, path: string, headers: Record<string, string>, body?: Buffer) =>
  rawRequest(server.port, method, path, headers, body, REQUEST_TIMEOUT_MS)

/**
 * The state a request could change, in one query: row counts of every state table and the
 * newest change time where a row is updated in place (users, clients, keys, policy stores,
 * consumed codes, revoked sessions, used reset links, ...). Audit records are compared separately.
 */
const STATE: [table: string, changed: string[]][] = [
  ['User', ['updatedAt', 'lastLoginAt']],
  ['Client', ['updatedAt']],
  ['Resource', ['updatedAt']],
  ['OidcPayload', ['consumedAt', 'expiresAt']],
  ['SigningKey', []],
  ['RevokedToken', []],
  ['GrantAccessToken', []],
  ['Setting', ['updatedAt']],
  ['PolicyStore', ['updatedAt']],
  ['PolicyVersion', []],
  ['ApiKey', ['updatedAt']],
  ['MfaFactor', []],
  ['RecoveryCode', ['usedAt']],
  ['UserSession', ['revokedAt', 'lastSeenAt']],
  ['MailOutbox', []],
  ['EmailToken', ['usedAt']],
]
const STATE_SQL = `SELECT ${STATE.flatMap(([t, cols]) => [
  `(SELECT COUNT(*) FROM "${t}") AS "${t}"`,
  ...cols.map((c) => `(SELECT MAX("${c}") FROM "${t}") AS "${t}.${c}"`),
]).join(', ')}`

async function stateOf(server: TestServer): Promise<string> {
  const [row] = await server.container.db.$queryRawUnsafe<Record<string, unknown>[]>(STATE_SQL)
  return JSON.stringify(row, (_k, v: unknown) =>
    typeof v === 'bigint' ? Number(v) : v instanceof Date ? v.toISOString() : v,
  )
}

/**
 * Audit records a refused request may leave: the record of the refusal itself (outcome failure
 * or deny). Any other outcome after a 4xx (success, allow, info, sent) would mean something was
 * done on its behalf.
 */
const REFUSAL_OUTCOMES = new Set(['failure', 'deny', 'denied'])

/**
 * A JSON value of the wrong shape, as JSON text (so `-0`, `1e999` and the not-JSON `NaN` are
 * sent as written): numbers, booleans, null, arrays, objects, nesting to 40 levels (the server
 * takes 32), 10,000-element arrays, prototype-pollution keys, huge and injection strings.
 */
const POLLUTION = [
  '{"__proto__":{"polluted":"yes","isAdmin":true,"scope":"admin"}}',
  '{"constructor":{"prototype":{"polluted":"yes","isAdmin":true}}}',
  '{"prototype":{"polluted":"yes"}}',
  '{"__proto__":{"__proto__":{"polluted":"yes"}}}',
  '[{"__proto__":{"polluted":"yes"}}]',
  '{"__proto__":null}',
  '{"toString":"x","valueOf":1,"hasOwnProperty":"y"}',
]
const nested = (d: number, open: string, inner: string, close: string) => open.repeat(d) + inner + close.repeat(d)
const shape: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0',
    '-0',
    '1',
    '-1',
    '1e308',
    '-1e308',
    '1e999',
    '5e-324',
    '9007199254740993',
    '1.5',
    '0.1e-1',
    'true',
    'false',
    'null',
    'NaN',
    '-Infinity',
    'undefined',
    '"NaN"',
    '"1e308"',
    '"true"',
    '"null"',
    '""',
    '" "',
    '[]',
    '{}',
    '[null]',
    '[""]',
    '[[]]',
    '{"":""}',
    '[1,"a",true,null,{},[]]',
    '{"$ne":null}',
    '{"$gt":""}',
    '"\\u202egnp.exe"',
    `"${'a'.repeat(100_000)}"`,
    '"\' OR 1=1 --"',
    '"<script>alert(1)</script>"',
    '"${jndi:ldap://x/a}"',
    '"{{7*7}}"',
    '"../../etc/passwd"',
  ),
  fc.constantFrom(...POLLUTION),
  fc
    .integer({ min: 1, max: 40 })
    .chain((d) =>
      fc.constantFrom(
        nested(d, '[', '', ']'),
        nested(d, '{"a":', '1', '}'),
        nested(Math.ceil(d / 2), '[{"a":', '"x"', '}]'),
      ),
    ),
  fc.constantFrom('1', '"x"', '{}', 'null', '[1]').map((el) => `[${Array<string>(10_000).fill(el).join(',')}]`),
)

/** How deep a JSON text nests (strings skipped): the test's own count, not the server's. */
function depthOf(json: string): number {
  let depth = 0
  let max = 0
  for (const m of json.matchAll(/"(?:[^"\\]|\\.)*"|[[{]|[\]}]/g)) {
    if (m[0] === '[' || m[0] === '{') max = Math.max(max, ++depth)
    else if (m[0] === ']' || m[0] === '}') depth--
  }
  return max
}

/** Own properties of the prototypes every object of the server process inherits from. */
const prototypeKeys = () =>
  [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) =>
    Reflect.ownKeys(p).map(String).sort().join(','),
  )

describeOnBackends('hostile-input.test.ts', 'hostile input', (backend) => {
  let server: TestServer
  let admin: string
  let routes: Route[]
  let params: Record<string, string> = {}
  const logs: string[] = []
  const prototypesBefore = prototypeKeys()

  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl, logSink: logs })
    const scope = 'admin authz:admin audit:read apikeys:admin'
    await registerServiceClients(server, [{ id: 'root', scope }])
    admin = await apiToken(server, 'root', scope)
    // Real objects behind the path parameters, so generated requests reach the handlers that
    // change state (and must change nothing when they refuse), not only "not found".
    const store = await call(server, 'POST', '/authz/v1/stores', admin, {
      name: 'store-1',
      model: 'rbac.conf',
      policy: 'p, role:reader, doc1, read\ng, alice, role:reader\n',
      reason: 'fuzz',
    })
    expect(store.status, JSON.stringify(store.body)).toBe(201)
    const key = await call(server, 'POST', '/apikeys/v1/keys', admin, {
      owner: 'client:root',
      name: 'fuzz',
      scopes: ['apikeys:admin'],
    })
    expect(key.status, JSON.stringify(key.body)).toBe(201)
    params = { store: 'store-1', id: key.body.id, version: '1', subject: 'alice', role: 'role:reader' }
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >
    const provider = Object.entries(discovery)
      .filter(([k, v]) => k.endsWith('_endpoint') && typeof v === 'string' && v.startsWith(server.url))
      .map(([, v]) => new URL(v as string).pathname)
    // oidc-provider's pages that discovery does not name
    provider.push('/device', '/device/:uid', '/auth/:uid', '/session/end/confirm', '/.well-known/openid-configuration')
    routes = [
      ...declaredRoutes(server.container),
      ...[...new Set(provider)].flatMap((path) => [
        { method: 'GET', path },
        { method: 'POST', path },
      ]),
    ]
  })
  afterAll(async () => {
    await server?.close()
  })

  it('covers every declared route and the OAuth endpoints', () => {
    const paths = new Set(routes.map((r) => r.path))
    for (const p of [
      '/token',
      '/auth',
      '/me',
      '/request',
      '/device/auth',
      '/token/introspection',
      '/token/revocation',
      '/session/end',
      '/audit/v1/events',
      '/access/v1/evaluation',
      '/authz/v1/stores/:store',
      '/interaction/:uid',
    ]) {
      expect(paths, p).toContain(p)
    }
    expect([...paths].some((p) => p.startsWith('/apikeys/v1'))).toBe(true)
    expect([...paths].some((p) => p.startsWith('/account'))).toBe(true)
  })

  it('generated hostile strings in any path segment, query, form or JSON field: a 400 when unstorable, never a 5xx, and a refused request changes nothing', async () => {
    let refused = 0
    await fc.assert(
      fc.asyncProperty(request(routes), async ({ route, where, field, value: v, authenticated }) => {
        const enc = encoded(v)
        let path = route.path.replace(/:(\w+)\??/g, (_m, name: string) =>
          where === 'path' ? enc : (params[name] ?? `${name}-1`),
        )
        if (where === 'path' && !route.path.includes(':')) path += `/${enc}` // a segment the router does not expect
        if (where === 'query') path += `?${field}=${enc}`
        const headers: Record<string, string> = { host: `localhost:${server.port}`, accept: 'application/json' }
        if (authenticated) headers.authorization = `Bearer ${admin}`
        let body: Buffer | undefined
        let bodyHostile = false
        if (where === 'form') {
          bodyHostile = hostile(v)
          headers['content-type'] = 'application/x-www-form-urlencoded'
          body = Buffer.from(`${field}=${enc}`)
        } else if (where === 'json') {
          headers['content-type'] = 'application/json'
          const text = v.kind === 'text' ? v.text : Buffer.from(v.bytes).toString('latin1')
          bodyHostile = hostileText(text)
          body = Buffer.from(JSON.stringify({ [field]: text, nested: { list: [text], [text]: 1 } }))
        } else if (where === 'json-raw') {
          // raw bytes inside a JSON string: invalid UTF-8 on the wire
          headers['content-type'] = 'application/json'
          const bytes =
            v.kind === 'bytes'
              ? v.bytes.filter((b) => b >= 0x20 && b !== 0x22 && b !== 0x5c)
              : [...Buffer.from(v.text.replaceAll('"', "'").replaceAll('\\', '/'), 'utf8')].filter((b) => b >= 0x20)
          bodyHostile = !isUtf8(bytes)
          body = Buffer.concat([Buffer.from(`{"${field}":"`), Buffer.from(bytes), Buffer.from('"}')])
        }
        const method = body && route.method === 'GET' ? 'POST' : route.method
        await server.container.audit.flush()
        const [stateBefore, auditBefore] = [
          await stateOf(server),
          (await server.container.db.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0,
        ]
        const res = await send(server, method, path, headers, body)
        const label = `${method} ${path} ${body ? body.toString('latin1').slice(0, 200) : ''} -> ${res.status} ${res.body.slice(0, 300)}`
        expect(res.status, label).toBeLessThan(500)
        if (res.status >= 400) {
          // Issue 13 §3: never a state change from a rejected request; only its own refusal is audited.
          refused++
          await server.container.audit.flush()
          expect(await stateOf(server), label).toBe(stateBefore)
          const added = await server.container.db.auditEvent.findMany({
            where: { seq: { gt: auditBefore } },
            select: { action: true, outcome: true },
          })
          expect(
            added.filter((a) => !REFUSAL_OUTCOMES.has(a.outcome)),
            label,
          ).toEqual([])
        }
        // In the path or the query the edge refuses it before any route, authenticated or not.
        if ((where === 'path' || where === 'query') && hostile(v)) {
          expect(res.status, label).toBe(400)
          expect(JSON.parse(res.body), label).toMatchObject({ error: 'invalid_request' })
        }
        // A body is read (and refused) by the route after it checked the caller and the method.
        if (bodyHostile) expect(res.status, label).toBeGreaterThanOrEqual(400)
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    )
    // The check above ran on a real share of the run, not on a handful of requests, and the
    // snapshot does see a change when one is made.
    expect(refused).toBeGreaterThan(RUNS / 2)
    const before = await stateOf(server)
    await registerServiceClients(server, [{ id: 'after-fuzz' }])
    expect(await stateOf(server)).not.toBe(before)
  }, 600_000)

  it('generated Host headers (ports out of range, garbage) on every route: a 400 when not host[:port], never a 5xx', async () => {
    const host = fc.oneof(
      fc.integer({ min: 65536, max: 10_000_000 }).map((port) => `localhost:${port}`),
      fc.constantFrom(
        'localhost:-1',
        'localhost:abc',
        '[::1',
        'a@b',
        'a/b',
        'exa mple.com',
        'localhost:',
        'user:pw@localhost',
        '%00',
        'localhost:65535',
        '[::1]:8080',
        'xn--bcher-kva.example',
      ),
      fc.string({
        unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
        minLength: 1,
        maxLength: 40,
      }),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...routes), host, async (route, value) => {
        const path = route.path.replace(/:(\w+)\??/g, (_m, name: string) => `${name}-1`)
        const res = await send(server, route.method, path, { host: value, accept: 'application/json' })
        const label = `${route.method} ${path} Host: ${value} -> ${res.status} ${res.body.slice(0, 200)}`
        expect(res.status, label).toBeLessThan(500)
        let valid = true
        try {
          const u = new URL(`http://${value}`)
          valid = !value.includes('@') && !u.username && !u.password && u.pathname === '/' && !u.search && !u.hash
        } catch {
          valid = false
        }
        if (!valid) expect(res.status, label).toBe(400)
      }),
      { numRuns: Math.ceil(RUNS / 5), seed: SEED, endOnFailure: true },
    )
  }, 300_000)

  /** One request and the snapshot check of the suite: never a 5xx, and a refused request changes nothing. */
  async function sendChecked(method: string, path: string, headers: Record<string, string>, body: Buffer) {
    await server.container.audit.flush()
    const [stateBefore, auditBefore] = [
      await stateOf(server),
      (await server.container.db.auditEvent.aggregate({ _max: { seq: true } }))._max.seq ?? 0,
    ]
    const res = await send(server, method, path, headers, body)
    const label = `${method} ${path} ${body.toString('latin1').slice(0, 200)} -> ${res.status} ${res.body.slice(0, 300)}`
    expect(res.status, label).toBeLessThan(500)
    if (res.status >= 400) {
      await server.container.audit.flush()
      expect(await stateOf(server), label).toBe(stateBefore)
      const added = await server.container.db.auditEvent.findMany({
        where: { seq: { gt: auditBefore } },
        select: { action: true, outcome: true },
      })
      expect(
        added.filter((a) => !REFUSAL_OUTCOMES.has(a.outcome)),
        label,
      ).toEqual([])
    }
    return { status: res.status, label }
  }

  it('generated wrong types, deep nesting, huge arrays and prototype-pollution keys in any field of every JSON route: never a 5xx, a refused request changes nothing, and no prototype is polluted', async () => {
    // The JSON routes, found rather than listed: those that answer malformed JSON from an
    // authorized caller with invalid_json (the others answer 401, 404, 405 or 415 first).
    const jsonRoutes: Route[] = []
    for (const route of routes.filter((r) => r.method !== 'GET')) {
      const path = route.path.replace(/:(\w+)\??/g, (_m, name: string) => params[name] ?? `${name}-1`)
      const res = await send(
        server,
        route.method,
        path,
        { 'content-type': 'application/json', authorization: `Bearer ${admin}`, accept: 'application/json' },
        Buffer.from('{'),
      )
      if (res.status === 400 && res.body.includes('invalid_json')) jsonRoutes.push(route)
    }
    for (const p of ['/authz/v1/stores', '/access/v1/evaluation']) expect(jsonRoutes.map((r) => r.path)).toContain(p)
    expect([...jsonRoutes].some((r) => r.path.startsWith('/apikeys/v1'))).toBe(true)
    // Valid values for the fields the JSON routes take, so a wrong type in one field reaches the
    // handler's own checks instead of stopping at a missing field.
    const valid: Record<string, string> = {
      name: '"fuzz-store"',
      model: '"rbac.conf"',
      policy: '"p, role:reader, doc2, read\\n"',
      reason: '"fuzz"',
      owner: '"client:root"',
      scopes: '["apikeys:admin"]',
      subject: '{"type":"user","id":"alice"}',
      action: '{"name":"read"}',
      resource: '{"type":"doc","id":"doc1"}',
      context: '{}',
      evaluations: '[{"action":{"name":"read"}}]',
      description: '"d"',
      expires_in: '3600',
      from: '"2026-01-01T00:00:00Z"',
    }
    const keys = Object.keys(valid)
    // Form posts go to the routes that take forms (oidc-provider's endpoints, the pages).
    const formRoutes = routes.filter((r) => r.method === 'POST' && !jsonRoutes.includes(r))
    const where = fc.constantFrom('valid', 'field', 'top', 'beside', 'form')
    let refused = 0
    const run = fc.asyncProperty(
      fc.constantFrom(...jsonRoutes),
      fc.constantFrom(...formRoutes),
      where,
      fc.constantFrom(...keys, ...FIELDS),
      shape,
      fc.constantFrom(true, true, true, false),
      async (jsonRoute, formRoute, at, field, json, authenticated) => {
        const route = at === 'form' ? formRoute : jsonRoute
        const path = route.path.replace(/:(\w+)\??/g, (_m, name: string) => params[name] ?? `${name}-1`)
        const headers: Record<string, string> = {
          host: `localhost:${server.port}`,
          accept: 'application/json',
          'content-type': 'application/json',
        }
        if (authenticated) headers.authorization = `Bearer ${admin}`
        let text: string
        // a valid body with one field replaced by the shape
        if (at === 'valid')
          text = `{${keys.map((k) => `"${k}":${k === field ? json : valid[k]}`).join(',')}${keys.includes(field) ? '' : `,"${field}":${json}`}}`
        else if (at === 'field') text = `{"${field}":${json}}`
        else if (at === 'top') text = json
        // pollution keys beside a plausible body, the shape under each
        else if (at === 'beside')
          text = `{"__proto__":${json},"constructor":{"prototype":${json}},${keys.map((k) => `"${k}":${valid[k]}`).join(',')},"prototype":${json}}`
        else {
          // the same keys as a form: bracket syntax that qs-style parsers turn into objects
          headers['content-type'] = 'application/x-www-form-urlencoded'
          text = `__proto__[polluted]=yes&constructor[prototype][polluted]=yes&__proto__=x&${field}[]=a&${field}[b]=c&${field}=${encodeURIComponent(json.slice(0, 2000))}`
        }
        const { status, label } = await sendChecked(route.method, path, headers, Buffer.from(text))
        if (status >= 400) refused++
        // Deeper than the limit is never taken.
        if (at !== 'form' && depthOf(text) > JSON_MAX_DEPTH)
          expect(status, `${label}: ${depthOf(text)} levels`).toBeGreaterThanOrEqual(400)
        expect(prototypeKeys(), label).toEqual(prototypesBefore)
      },
    )
    await fc.assert(run, { numRuns: Math.ceil(RUNS / 3), seed: SEED, endOnFailure: true })
    expect(refused).toBeGreaterThan(RUNS / 6)
    const probe = {} as Record<string, unknown>
    expect([probe.polluted, probe.isAdmin, probe.scope, ([] as unknown as Record<string, unknown>).polluted]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ])
    expect(prototypeKeys()).toEqual(prototypesBefore)
  }, 600_000)

  it('generated CR/LF, bare CR or LF, NUL, obs-fold, control bytes and 16 KiB values in request headers (raw bytes): never a 5xx, never an injected response header, and the server stays healthy', async () => {
    const name = fc.constantFrom(
      'X-Request-ID',
      'User-Agent',
      'Origin',
      'Authorization',
      'Cookie',
      'Accept',
      'Accept-Language',
      'X-Forwarded-For',
      'Content-Type',
      'Sec-Fetch-Site',
    )
    const injection = fc.constantFrom(
      '\r\nSet-Cookie: a=b',
      '\r\nX-Injected: 1',
      '\nSet-Cookie: a=b',
      '\rSet-Cookie: a=b',
      '\r',
      '\n',
      '\u0000',
      'a\u0000b',
      '\r\n folded',
      '\r\n\tSet-Cookie: a=b',
      '\r\n X-Injected: 1',
      '\u000b',
      '\u000c',
      '\u001b[31m',
      '\u007f',
      '\u00ff\u00fe',
      '\u00c3\u0028',
      '\r\n\r\nGET /admin HTTP/1.1\r\nHost: x',
      '%0d%0aSet-Cookie:%20a=b',
      '\u2028\u2029',
      'x'.repeat(16 * 1024),
      '',
    )
    const prefix = (h: string) =>
      h === 'Authorization'
        ? `Bearer ${admin}`
        : h === 'Cookie'
          ? '_session=abc; _interaction=x'
          : h === 'Origin'
            ? `http://localhost:${server.port}`
            : 'v'
    let answered = 0
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        name,
        injection,
        fc.boolean(),
        async (route, header, inject, after) => {
          const path = route.path.replace(/:(\w+)\??/g, (_m, p: string) => params[p] ?? `${p}-1`)
          const value = after ? `${prefix(header)}${inject}` : `${inject}${prefix(header)}`
          // latin1: one byte per character, exactly as written
          const head = `${route.method} ${path} HTTP/1.1\r\nHost: localhost:${server.port}\r\nAccept: application/json\r\n${header}: ${value}\r\nConnection: close\r\n\r\n`
          const raw = await rawExchange(server.port, Buffer.from(head, 'latin1'), REQUEST_TIMEOUT_MS)
          const label = `${JSON.stringify(head.slice(0, 300))} -> ${JSON.stringify(raw.slice(0, 300))}`
          // Node may close without an answer on bytes it cannot parse; an answer is never a 5xx.
          if (raw) answered++
          expect(
            raw
              .match(/^HTTP\/1\.[01] \d{3}/gm)
              ?.map((l) => Number(l.slice(9)))
              .filter((s) => s >= 500) ?? [],
            label,
          ).toEqual([])
          const headerBlocks = raw.split(/^HTTP\/1\.[01] /m).map((r) => r.split('\r\n\r\n')[0]!)
          for (const block of headerBlocks) {
            expect(block, label).not.toMatch(/^set-cookie:\s*a=b/im)
            expect(block, label).not.toMatch(/^x-injected:/im)
          }
        },
      ),
      { numRuns: Math.ceil(RUNS / 5), seed: SEED, endOnFailure: true },
    )
    expect(answered).toBeGreaterThan(RUNS / 10)
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200)
  }, 600_000)

  it('after the run the server is ready, its audit log still records, and the chain verifies', async () => {
    const ready = await fetch(`${server.url}/readyz`)
    expect(ready.status).toBe(200)
    await server.container.audit.record({
      action: testAction('test.after_fuzz'),
      outcome: 'info',
      actor: 'fuzz\u0000er',
    })
    await server.container.audit.flush()
    const [last] = await server.container.audit.list({ action: testAction('test.after_fuzz') })
    expect(last?.actor).toBe('fuzz\\u0000er')
    expect((await server.container.auditChain.verify()).ok).toBe(true)
    const plain = logs.filter((l) => !l.startsWith('{'))
    expect(plain).toEqual([])
  })
})

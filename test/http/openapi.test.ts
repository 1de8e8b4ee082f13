import type Router from '@koa/router'
import fc from 'fast-check'
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { buildApp } from '../../src/app.ts'
import { openApiPath } from '../../src/http/openapi.ts'
import { authzContracts } from '../../src/authz/routes.ts'
import { auditContracts } from '../../src/audit/routes.ts'
import { apiKeyContracts } from '../../src/apikeys/routes.ts'
import { metricsContract } from '../../src/metrics/routes.ts'
import { openApiContract } from '../../src/http/api-docs.ts'
import { adminClientContracts, adminUserContracts } from '../../src/admin/routes.ts'
import { adminPlatformContracts } from '../../src/admin/routes-platform.ts'
import { adminAccessContracts } from '../../src/admin/routes-access.ts'
import { adminIdpContracts } from '../../src/admin/routes-idps.ts'
import { ssfContracts } from '../../src/ssf/routes.ts'
import { ssfAdminContracts } from '../../src/ssf/admin-routes.ts'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import type { RouteContract } from '../../src/http/contract.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The OpenAPI document (/openapi.json) against the server that serves it: a valid OpenAPI 3.1
 * document; every operation in it is mounted and answers (not 404/405) with a valid credential,
 * with a body its declared schema accepts; every route mounted under the JSON API prefixes is in
 * it; its security requirements are what the server enforces (401 without a credential, 403
 * without the scope); and invalid input is one 400 listing every bad field.
 */
type Doc = {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { securitySchemes: Record<string, unknown> }
}
type Operation = {
  operationId: string
  security: Record<string, string[]>[]
  parameters?: { name: string; in: string; required: boolean }[]
  requestBody?: unknown
}

const JSON_API =
  /^\/(authz\/v1|access\/v1|apikeys\/v1|audit\/v1|admin\/v1|ssf\/v1)(\/|$)|^\/metrics$|^\/openapi\.json$|^\/\.well-known\/(authzen|ssf)-configuration$/
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

const contracts = new Map<string, RouteContract>(
  [
    ...Object.values(authzContracts),
    ...Object.values(auditContracts),
    ...Object.values(apiKeyContracts),
    ...Object.values(adminUserContracts),
    ...Object.values(adminClientContracts),
    ...Object.values(adminPlatformContracts),
    ...Object.values(adminAccessContracts),
    ...Object.values(adminIdpContracts),
    ...Object.values(ssfContracts),
    ...Object.values(ssfAdminContracts),
    metricsContract,
    openApiContract,
  ].map((c) => [c.operationId, c]),
)

function operations(doc: Doc) {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method]! })),
  )
}

describeOnBackends('test/http/openapi.test.ts', 'the OpenAPI document', (backend) => {
  let server: TestServer
  let doc: Doc
  let admin: string
  let checker: string
  let keyId: string
  let walkUser: string
  let sessionUser: string
  let sessionId: string
  /** ids the admin walk acts on (issue 12 §1, §5, §6): each operation gets its own, so every call succeeds */
  const walk: Record<string, string> = {}

  beforeAll(async () => {
    server = await startTestServer({ kind: backend.kind, redisUrl: backend.redisUrl })
    await registerServiceClients(server, [
      { id: 'root', scope: 'admin' },
      { id: 'pep', scope: 'authz:check' },
    ])
    admin = await apiToken(server, 'root', 'admin')
    checker = await apiToken(server, 'pep', 'authz:check')
    await server.container.authz.stores.create(
      { name: 'docs', model: 'rbac.conf', policy: 'p, reader, doc1, read\ng, alice, reader\n' },
      'test',
    )
    const key = await call(server, 'POST', '/apikeys/v1/keys', admin, {
      name: 'walker',
      owner: 'client:pep',
      scopes: ['authz:check'],
    })
    expect(key.status).toBe(201)
    keyId = key.body.id
    // the admin API: root is granted the admin role in the system store; the walk acts on its own user, client
    // and session
    await ensureAdmin(server.container)
    await ensureSystemPolicyStore(server.container)
    const svc = adminServices(server.container)
    await svc.authority.grant({ kind: 'cli' }, { type: 'client', id: 'root' }, 'admin')
    walkUser = (await svc.users.create({ kind: 'cli' }, { email: 'walked@example.com' })).user.id
    sessionUser = (await svc.users.create({ kind: 'cli' }, { email: 'walked-sessions@example.com' })).user.id
    sessionId = (await server.container.login.sessions.create({ userId: sessionUser, amr: ['pwd'], acr: '1' })).record
      .id
    await svc.clients.create(
      { kind: 'cli' },
      {
        clientId: 'walked-client',
        metadata: { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      },
    )
    await svc.clients.create(
      { kind: 'cli' },
      {
        clientId: 'walked-contained',
        metadata: { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
      },
    )
    walk.contained = (await svc.users.create({ kind: 'cli' }, { email: 'walked-contained@example.com' })).user.id
    await svc.resources.create(
      { kind: 'cli' },
      { indicator: 'https://walked.example.com', scopes: [{ name: 'walk', roles: ['walker'] }] },
    )
    walk.retiring =
      (await svc.keys.rotate({ kind: 'cli' })) &&
      (await server.container.keys.list()).find((k) => k.status === 'retiring')!.kid
    // the walk retires that key: the tokens come from the new signer
    admin = await apiToken(server, 'root', 'admin')
    checker = await apiToken(server, 'pep', 'authz:check')
    walk.apiKey = (
      await call(server, 'POST', '/apikeys/v1/keys', admin, {
        name: 'walker-admin',
        owner: 'client:pep',
        scopes: ['authz:check'],
      })
    ).body.id
    const asker = { kind: 'user' as const, id: walkUser }
    const ask = async (role: string) =>
      (await svc.elevation.request(asker, { role, hours: 1, reason: 'the walk' }, async (r) => r)).id
    for (const role of ['auditor', 'helpdesk', 'client-manager']) walk[role] = await ask(role)
    // filed by root for the user, so root may cancel it in the walk
    walk['policy-editor'] = (
      await svc.elevation.request(
        { kind: 'client', id: 'root' },
        { role: 'policy-editor', hours: 1, reason: 'the walk', subject: `user:${walkUser}` },
        async (r) => r,
      )
    ).id
    await svc.elevation.approve({ kind: 'cli' }, walk['client-manager']!)
    const review = await svc.reviews.create({ kind: 'cli' }, { name: 'walk' })
    walk.review = review.id
    const items = (await svc.reviews.items({ kind: 'cli' }, review.id, { limit: 200 })).items
    walk.item = items[0]!.id
    for (const i of items.slice(1)) await svc.reviews.decide({ kind: 'cli' }, review.id, i.id, { decision: 'confirm' })
    await svc.identityProviders.create(
      { kind: 'cli' },
      {
        alias: 'walked',
        issuer: 'https://idp.walked.example.com',
        client_id: 'walked',
        client_secret: 'walked-secret',
      },
    )
    // the Shared Signals walk acts on root's own (poll) stream
    walk.ssf = (await server.container.ssf.create('root', { delivery: { method: 'urn:ietf:rfc:8936' } })).stream_id
    const r = await call(server, 'GET', '/openapi.json')
    expect(r.status).toBe(200)
    expect(r.headers.get('content-type')).toMatch(/^application\/json/)
    doc = r.body
  })
  afterAll(async () => {
    await server?.close()
  })

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0')
    const result = await new Validator().validate(doc as unknown as Parameters<Validator['validate']>[0])
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([])
    expect(result.valid).toBe(true)
    // every operation has a unique id, and names how to call it
    const ids = operations(doc).map((o) => o.op.operationId)
    expect(new Set(ids).size).toBe(ids.length)
    for (const { op } of operations(doc)) expect(op.security, op.operationId).toBeDefined()
  })

  it('lists every route mounted under the JSON API prefixes, and nothing that is not mounted', () => {
    const app = buildApp(server.container)
    const mounted = new Set<string>()
    for (const mw of app.middleware) {
      const router = (mw as { router?: Router }).router
      if (!router) continue
      for (const layer of router.stack) {
        if (!JSON_API.test(layer.path as string)) continue
        for (const m of layer.methods)
          if (m !== 'HEAD') mounted.add(`${m.toLowerCase()} ${openApiPath(layer.path as string)}`)
      }
    }
    const documented = new Set(operations(doc).map((o) => `${o.method} ${o.path}`))
    expect(
      [...mounted].filter((r) => !documented.has(r)),
      'mounted but not documented',
    ).toEqual([])
    expect(
      [...documented].filter((r) => !mounted.has(r)),
      'documented but not mounted',
    ).toEqual([])
    expect(mounted.size).toBeGreaterThan(25)
  })

  // Sample values for path parameters and required query parameters.
  const adminSample = (path: string, name: string) =>
    path.startsWith('/admin/v1/ssf/') ? walk.ssf : adminSampleOf(path, name)
  const adminSampleOf = (path: string, name: string) =>
    path.includes('/contain') || path.includes('/enable')
      ? path.startsWith('/admin/v1/clients')
        ? 'walked-contained'
        : walk.contained
      : path.startsWith('/admin/v1/clients')
        ? 'walked-client'
        : path.startsWith('/admin/v1/resources')
          ? 'https://walked.example.com'
          : path.startsWith('/admin/v1/signing-keys')
            ? walk.retiring
            : path.startsWith('/admin/v1/api-keys')
              ? walk.apiKey
              : path.startsWith('/admin/v1/policy-stores')
                ? 'docs'
                : path.startsWith('/admin/v1/identity-providers')
                  ? 'walked'
                  : path.startsWith('/admin/v1/access-reviews')
                    ? { id: walk.review, item: walk.item }[name]
                    : path.startsWith('/admin/v1/role-requests')
                      ? walk[
                          path.endsWith('/deny')
                            ? 'helpdesk'
                            : path.endsWith('/cancel')
                              ? 'policy-editor'
                              : path.endsWith('/revoke')
                                ? 'client-manager'
                                : 'auditor'
                        ]
                      : {
                          id: path.includes('/sessions/') ? sessionUser : walkUser,
                          sid: sessionId,
                          role: 'auditor',
                          member: `user:${walkUser}`,
                        }[name]
  const sample = (name: string, path = '') =>
    (path.startsWith('/admin/v1/') ? adminSample(path, name) : undefined) ??
    {
      store: 'docs',
      version: '1',
      subject: 'alice',
      role: 'reader',
      id: keyId,
      from: '1',
      to: '1',
      stream_id: walk.ssf,
    }[name] ??
    'x'
  function urlOf(path: string, op: Operation) {
    const url = path.replace(/\{(\w+)\}/g, (_m, n: string) => encodeURIComponent(sample(n, path)))
    const query = (op.parameters ?? [])
      .filter((p) => p.in === 'query' && p.required)
      .map((p) => `${p.name}=${sample(p.name)}`)
    return query.length ? `${url}?${query.join('&')}` : url
  }
  // A body each operation accepts (the walk is about routing; validation has its own test).
  const ssfSubject = { format: 'email', email: 'walked@example.com' }
  const bodies: Record<string, unknown> = {
    ssfCreateStream: { delivery: { method: 'urn:ietf:rfc:8936' } },
    get ssfUpdateStream() {
      return { stream_id: walk.ssf, description: 'walked' }
    },
    get ssfReplaceStream() {
      return { stream_id: walk.ssf, delivery: { method: 'urn:ietf:rfc:8936' } }
    },
    get ssfUpdateStreamStatus() {
      return { stream_id: walk.ssf, status: 'enabled' }
    },
    get ssfAddSubject() {
      return { stream_id: walk.ssf, subject: ssfSubject }
    },
    get ssfRemoveSubject() {
      return { stream_id: walk.ssf, subject: ssfSubject }
    },
    get ssfVerify() {
      return { stream_id: walk.ssf, state: 'walk' }
    },
    ssfPoll: { returnImmediately: true },
    adminSetSsfStreamStatus: { status: 'enabled' },
    accessEvaluation: {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'doc', id: 'doc1' },
      context: { store: 'docs' },
    },
    accessEvaluations: {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      context: { store: 'docs' },
      evaluations: [{ resource: { type: 'doc', id: 'doc1' } }],
    },
    searchSubjects: {
      subject: { type: 'user' },
      action: { name: 'read' },
      resource: { type: 'doc', id: 'doc1' },
      context: { store: 'docs' },
    },
    searchResources: {
      subject: { type: 'user', id: 'alice' },
      action: { name: 'read' },
      resource: { type: 'doc' },
      context: { store: 'docs' },
    },
    searchActions: {
      subject: { type: 'user', id: 'alice' },
      resource: { type: 'doc', id: 'doc1' },
      context: { store: 'docs' },
    },
    checkPolicy: { request: ['alice', 'doc1', 'read'] },
    checkPolicyBatch: { requests: [['alice', 'doc1', 'read']] },
    createStore: { name: 'walked', model: 'acl.conf' },
    changeStore: { add: [['p', 'reader', 'doc2', 'read']] },
    rollbackStore: { to: 1 },
    createApiKey: { name: 'walked', owner: 'client:pep', scopes: ['authz:check'] },
    updateApiKey: { name: 'renamed' },
    rotateApiKey: {},
    verifyApiKey: { token: 'pcs_not_a_real_key' },
    adminCreateUser: { email: 'walk-created@example.com', name: 'Walk' },
    adminUpdateUser: { name: 'Walked' },
    adminGrantRole: { member: 'user:walked@example.com' },
    adminCreateClient: {
      clientId: 'walk-created',
      metadata: { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    },
    adminUpdateClient: { client_name: 'Walked' },
    adminCreateResource: { indicator: 'https://walk-created.example.com', scopes: [{ name: 'a', roles: ['r'] }] },
    adminUpdateResource: { accessTokenTtl: 900 },
    adminRevokeApiKey: { reason: 'walk' },
    adminChangePolicyStore: { add: [['p', 'reader', 'doc3', 'read']] },
    adminContainUser: { reason: 'the walk' },
    adminContainClient: { reason: 'the walk' },
    adminEnableClient: { reason: 'the walk' },
    adminRequestRole: { role: 'user-manager', hours: 1, reason: 'the walk', subject: 'user:walked@example.com' },
    adminApproveRoleRequest: { note: 'walk' },
    adminDenyRoleRequest: {},
    adminCancelRoleRequest: {},
    adminRevokeRoleRequest: {},
    adminCreateAccessReview: { name: 'walked' },
    adminCreateIdentityProvider: {
      alias: 'walk-created',
      preset: 'github',
      client_id: 'walk',
      client_secret: 'walk-secret',
    },
    adminUpdateIdentityProvider: {
      issuer: 'https://idp.walked.example.com',
      client_id: 'walked-2',
      display_name: 'Walked',
    },
    adminDecideAccessReviewItem: { decision: 'confirm' },
  }

  it('answers every documented operation with a valid credential, in the declared shape', async () => {
    // deletions last, so the key the other operations use still exists
    const ops = operations(doc).sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'))
    expect(ops.length).toBeGreaterThan(25)
    for (const { path, method, op } of ops) {
      const body = op.requestBody ? bodies[op.operationId] : undefined
      if (op.requestBody) expect(body, `a sample body for ${op.operationId}`).toBeDefined()
      const r = await call(server, method.toUpperCase(), urlOf(path, op), admin, body)
      const what = `${method.toUpperCase()} ${path} -> ${r.status} ${JSON.stringify(r.body)?.slice(0, 300)}`
      expect([404, 405], what).not.toContain(r.status)
      expect(r.status, what).toBeLessThan(500)
      // the admin API walks its own user, client, session and role grant: every call succeeds
      if (path.startsWith('/admin/v1/')) expect(r.status, what).toBeLessThan(300)
      if (r.status >= 400) {
        // e.g. approving a key that needs no approval: refused in the one error shape
        expect(r.body, what).toMatchObject({ error: expect.any(String), error_description: expect.any(String) })
        continue
      }
      const declared = contracts.get(op.operationId)!.responses[r.status]
      expect(declared, `${what}: status not declared`).toBeDefined()
      if (declared!.body && r.headers.get('content-type')?.startsWith('application/json')) {
        const parsed = (declared!.body as z.ZodType).safeParse(r.body)
        expect(parsed.success, `${what}: ${JSON.stringify(parsed.error?.issues)}`).toBe(true)
      }
    }
  })

  it('enforces the security it documents: 401 without a credential, 403 without a listed scope', async () => {
    for (const { path, method, op } of operations(doc)) {
      const scopes = new Set(op.security.flatMap((s) => Object.values(s).flat()))
      const anonymous = await call(server, method.toUpperCase(), urlOf(path, op))
      if (!op.security.length) {
        expect(anonymous.status, `${op.operationId} is public`).toBe(200)
        continue
      }
      expect(anonymous.status, `${op.operationId} without a credential`).toBe(401)
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer realm="portcullis"/)
      const withCheck = await call(
        server,
        method.toUpperCase(),
        urlOf(path, op),
        checker,
        op.requestBody ? bodies[op.operationId] : undefined,
      )
      if (scopes.has('authz:check')) expect(withCheck.status, op.operationId).not.toBe(403)
      else {
        expect(withCheck.status, `${op.operationId} with only authz:check`).toBe(403)
        expect(withCheck.body.error).toBe('insufficient_scope')
      }
      const forged = await call(server, method.toUpperCase(), urlOf(path, op), `${checker.slice(0, -4)}AAAA`)
      expect(forged.status, `${op.operationId} with a forged token`).toBe(401)
    }
  })

  it('answers input with several bad fields with one 400 listing each of them', async () => {
    const r = await call(server, 'POST', '/apikeys/v1/keys', admin, {
      name: '',
      level: 'EXTREME',
      expires_in: -5,
      allowed_ips: 'all',
      surprise: true,
    })
    expect(r.status).toBe(400)
    expect(r.body.error).toBe('invalid_request')
    const fields = (r.body.details.fields as { in: string; field: string }[]).map((f) => f.field)
    expect(fields.sort()).toEqual(['allowed_ips', 'expires_in', 'level', 'name', 'surprise'])
    for (const f of ['name', 'level', 'expires_in', 'allowed_ips', 'surprise'])
      expect(r.body.error_description).toContain(f)
    expect(r.headers.get('cache-control')).toBe('no-store')

    // query and body of one request are reported together
    const both = await call(server, 'GET', '/authz/v1/stores/docs/diff?from=zero&to=-1', admin)
    expect(both.status).toBe(400)
    expect(both.body.details.fields.map((f: { in: string; field: string }) => `${f.in}:${f.field}`)).toEqual([
      'query:from',
      'query:to',
    ])

    // a path parameter that cannot be an id is a 400, not a lookup
    const badId = await call(server, 'GET', '/apikeys/v1/keys/..%2F..%2Fetc', admin)
    expect(badId.status).toBe(400)
    expect(badId.body.details.fields).toEqual([expect.objectContaining({ in: 'path', field: 'id' })])
  })

  it('lists exactly the fields that are bad, whichever they are (property)', async () => {
    const bad: Record<string, unknown> = {
      name: 42,
      level: 'EXTREME',
      expires_in: 0,
      allowed_ips: 'all',
      rate_limit: -1,
      scopes: [' '],
      color: 'red',
    }
    await fc.assert(
      fc.asyncProperty(fc.subarray(Object.keys(bad), { minLength: 1 }), async (broken) => {
        const body: Record<string, unknown> = { name: 'fine', owner: 'client:pep' }
        for (const k of broken) body[k] = bad[k]
        const r = await call(server, 'POST', '/apikeys/v1/keys', admin, body)
        expect(r.status).toBe(400)
        const fields = new Set((r.body.details.fields as { field: string }[]).map((f) => f.field.split('.')[0]))
        expect([...fields].sort()).toEqual([...broken].sort())
      }),
      { numRuns: 25 },
    )
  })
})

describe('the API reference page', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(async () => {
    await server?.close()
  })

  it('serves the page and only the reference assets it names, from the installed package', async () => {
    const page = await fetch(`${server.url}/docs/api`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await page.text()
    for (const src of html.matchAll(/(?:src|href)="(\/docs\/api\/assets\/[^"]+)"/g)) {
      const asset = await fetch(`${server.url}${src[1]}`)
      expect(asset.status, src[1]).toBe(200)
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100)
    }
    for (const probe of ['package.json', '..%2F..%2Fpackage.json', 'index.html', 'swagger-initializer.js']) {
      expect((await fetch(`${server.url}/docs/api/assets/${probe}`)).status, probe).toBe(404)
    }
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * OpenID AuthZEN 1.0 search APIs (subject, resource, action search with pages) over real HTTP:
 * results are what the engine allows, every result evaluates to true, pages chain without
 * repeats, and a store whose model cannot be listed answers a 400 naming why.
 */
const RBAC = `
p, reader, doc1, read
p, writer, doc1, write
p, reader, doc2, read
p, carol, doc3, read
g, alice, writer
g, writer, reader
g, bob, reader
`
const DOMAINS = `
p, admin, acme, doc1, read
p, admin, globex, doc1, read
g, alice, admin, acme
g, bob, admin, globex
`
const RESTFUL = `
p, alice, /orders/:id, GET
p, bob, /orders, POST
`
const ABAC = `
p, alice, doc1, read
`

let server: TestServer
let checker: string
let tenantA: string
let bystander: string

const search = (kind: string, body: unknown, token = checker) =>
  call(server, 'POST', `/access/v1/search/${kind}`, token, body)

describeOnBackends('authz-search.test.ts', 'AuthZEN search', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    await registerServiceClients(server, [
      { id: 'policy-admin', scope: 'authz:admin authz:check' },
      { id: 'pep', scope: 'authz:check' },
      { id: 'tenant-a', scope: 'authz:check', authz_stores: ['tenant-a'] },
      { id: 'bystander', scope: 'audit:read' },
    ])
    const admin = await apiToken(server, 'policy-admin', 'authz:admin authz:check')
    checker = await apiToken(server, 'pep', 'authz:check')
    tenantA = await apiToken(server, 'tenant-a', 'authz:check')
    bystander = await apiToken(server, 'bystander', 'audit:read')
    const many = Array.from({ length: 25 }, (_, i) => `g, user${String(i).padStart(2, '0')}, member`).join('\n')
    for (const [name, model, policy] of [
      ['docs', 'rbac.conf', RBAC],
      ['tenants', 'rbac-with-domains.conf', DOMAINS],
      ['rest', 'restful.conf', RESTFUL],
      ['attrs', 'abac.conf', ABAC],
      ['crowd', 'rbac.conf', `p, member, wiki, read\n${many}`],
    ] as const) {
      expect((await call(server, 'POST', '/authz/v1/stores', admin, { name, model, policy })).status).toBe(201)
    }
  })
  afterAll(async () => {
    await server?.close()
  })

  describe('AuthZEN search APIs', () => {
    it('are advertised in the PDP metadata', async () => {
      const meta = (await call(server, 'GET', '/.well-known/authzen-configuration')).body
      expect(meta.search_subject_endpoint).toBe(`${server.url}/access/v1/search/subject`)
      expect(meta.search_resource_endpoint).toBe(`${server.url}/access/v1/search/resource`)
      expect(meta.search_action_endpoint).toBe(`${server.url}/access/v1/search/action`)
    })

    it('subject search finds users through roles, never the roles themselves', async () => {
      const read = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      })
      expect(read.status).toBe(200)
      expect(read.body).toEqual({
        results: [
          { type: 'user', id: 'alice' },
          { type: 'user', id: 'bob' },
        ],
        page: { next_token: '', count: 2 },
      })
      const write = await search('subject', {
        subject: { type: 'user', id: 'ignored' },
        action: { name: 'write' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      })
      expect(write.body.results).toEqual([{ type: 'user', id: 'alice' }])
    })

    it('resource and action search answer what the subject may do', async () => {
      const res = await search('resource', {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        resource: { type: 'doc' },
        context: { store: 'docs' },
      })
      expect(res.body.results).toEqual([
        { type: 'doc', id: 'doc1' },
        { type: 'doc', id: 'doc2' },
      ])
      const carol = await search('resource', {
        subject: { type: 'user', id: 'carol' },
        action: { name: 'read' },
        resource: { type: 'doc' },
        context: { store: 'docs' },
      })
      expect(carol.body.results).toEqual([{ type: 'doc', id: 'doc3' }])
      const acts = await search('action', {
        subject: { type: 'user', id: 'alice' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      })
      expect(acts.body).toEqual({ results: [{ name: 'read' }, { name: 'write' }], page: { next_token: '', count: 2 } })
      const none = await search('action', {
        subject: { type: 'user', id: 'nobody' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      })
      expect(none.body).toEqual({ results: [], page: { next_token: '', count: 0 } })
    })

    it('every result fed back into an evaluation is decision: true', async () => {
      for (const act of ['read', 'write']) {
        const found = await search('subject', {
          subject: { type: 'user' },
          action: { name: act },
          resource: { type: 'doc', id: 'doc1' },
          context: { store: 'docs' },
        })
        for (const s of found.body.results) {
          const d = await call(server, 'POST', '/access/v1/evaluation', checker, {
            subject: s,
            action: { name: act },
            resource: { type: 'doc', id: 'doc1' },
            context: { store: 'docs' },
          })
          expect(d.body.decision).toBe(true)
        }
      }
    })

    it('searches within the domain the request names', async () => {
      const acme = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'tenants', domain: 'acme' },
      })
      expect(acme.body.results).toEqual([{ type: 'user', id: 'alice' }])
      const noDomain = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'tenants' },
      })
      expect(noDomain.status).toBe(400)
      expect(noDomain.body.error_description).toMatch(/dom/)
    })

    it('pages chain with next_token, without repeats, and the last page has an empty token', async () => {
      const base = {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'page', id: 'wiki' },
        context: { store: 'crowd' },
      }
      const seen: string[] = []
      let token: string | undefined
      let pages = 0
      do {
        const r = await search('subject', { ...base, page: { limit: 10, ...(token ? { token } : {}) } })
        expect(r.status).toBe(200)
        expect(r.body.page.count).toBe(r.body.results.length)
        seen.push(...r.body.results.map((x: { id: string }) => x.id))
        token = r.body.page.next_token || undefined
        pages++
      } while (token && pages < 10)
      expect(pages).toBe(3)
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `user${String(i).padStart(2, '0')}`))
      // the draft spelling of the request field is read too
      const first = await search('subject', { ...base, page: { limit: 24 } })
      const last = await search('subject', { ...base, page: { limit: 24, next_token: first.body.page.next_token } })
      expect(last.body).toEqual({ results: [{ type: 'user', id: 'user24' }], page: { next_token: '', count: 1 } })
    })

    it('refuses a page token from another search or not ours', async () => {
      const first = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'page', id: 'wiki' },
        context: { store: 'crowd' },
        page: { limit: 1 },
      })
      const other = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'write' },
        resource: { type: 'page', id: 'wiki' },
        context: { store: 'crowd' },
        page: { token: first.body.page.next_token },
      })
      expect(other.status).toBe(400)
      expect(other.body.error_description).toMatch(/different search/)
      for (const token of ['garbage', Buffer.from('{"a":1}').toString('base64url'), '\u0000']) {
        const bad = await search('subject', {
          subject: { type: 'user' },
          action: { name: 'read' },
          resource: { type: 'page', id: 'wiki' },
          context: { store: 'crowd' },
          page: { token },
        })
        expect(bad.status).toBe(400)
      }
    })

    it('a store whose model cannot be listed answers 400 naming why', async () => {
      const rest = await search('resource', {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'GET' },
        resource: { type: 'url' },
        context: { store: 'rest' },
      })
      expect(rest.status).toBe(400)
      expect(rest.body.error).toBe('search_unsupported')
      expect(rest.body.error_description).toMatch(
        /store rest cannot answer a resource search: .*keyMatch2\(\) patterns/,
      )
      // the same store lists its subjects: they are plain names
      const who = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'GET' },
        resource: { type: 'url', id: '/orders/7' },
        context: { store: 'rest' },
      })
      expect(who.body.results).toEqual([{ type: 'user', id: 'alice' }])
      const abac = await search('subject', {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'attrs' },
      })
      expect(abac.status).toBe(400)
      expect(abac.body.error_description).toMatch(/store attrs cannot answer a subject search: .*(ABAC|subject\.id)/)
    })

    it("401 without a credential, 403 without the scope or for another tenant's store, 404 for no store", async () => {
      const body = {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      }
      expect((await search('subject', body, '')).status).toBe(401)
      expect((await search('subject', body, 'not-a-token')).status).toBe(401)
      expect((await search('subject', body, bystander)).status).toBe(403)
      expect((await search('subject', body, tenantA)).status).toBe(403)
      expect((await search('subject', { ...body, context: { store: 'nope' } })).status).toBe(404)
    })

    it('hostile input is a 400 naming the field', async () => {
      const base = {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        resource: { type: 'doc' },
        context: { store: 'docs' },
      }
      for (const [body, field] of [
        [{ ...base, page: { limit: 0 } }, 'page.limit'],
        [{ ...base, page: { limit: 100_000 } }, 'page.limit'],
        [{ ...base, page: { token: 'x'.repeat(5000) } }, 'page.token'],
        [{ ...base, resource: { id: 'doc1' } }, 'resource.type'],
        [{ ...base, subject: { type: 'user' } }, 'subject.id'],
        [
          { ...base, context: { store: 'docs', domain: ['a'] }, subject: { type: 'user', id: ['alice'] } },
          'subject.id',
        ],
      ] as const) {
        const r = await search('resource', body)
        expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400)
        expect(r.body.error_description).toContain(field)
      }
      const action = await search('action', { subject: { type: 'user', id: 'alice' }, context: { store: 'docs' } })
      expect(action.status).toBe(400)
      expect(action.body.error_description).toContain('resource')
    })
  })
})

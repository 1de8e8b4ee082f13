import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { decisionRoutes } from '../../src/authz/routes.ts'
import { decisionLane } from '../../src/http/decision-lane.ts'
import { recordHttp } from '../../src/metrics/http.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The decision fast lane runs the route declarations it is given (http/contract.ts), not a
 * table of its own: every declared decision route is taken by the lane when the request is one
 * it can finish, and everything the contract refuses (bad params or body, missing scope, a
 * store the caller may not use, a query string) goes on to Koa untouched.
 */
describe('the decision fast lane', () => {
  let server: TestServer
  let lane: http.Server
  let url: string
  let checker: string
  let auditor: string
  let fenced: string
  const passedOn: string[] = []

  beforeAll(async () => {
    server = await startTestServer()
    await registerServiceClients(server, [
      { id: 'pep', scope: 'authz:check' },
      { id: 'aud', scope: 'audit:read' },
      { id: 'fenced', scope: 'authz:check', authz_stores: ['other'] },
    ])
    await server.container.authz.stores.create(
      { name: 'docs', model: 'acl.conf', policy: 'p, alice, doc1, read\n' },
      'test',
    )
    checker = await apiToken(server, 'pep', 'authz:check')
    auditor = await apiToken(server, 'aud', 'audit:read')
    fenced = await apiToken(server, 'fenced', 'authz:check')
    const c = server.container
    const take = decisionLane({
      routes: decisionRoutes(c.authz.decide),
      verifyAccessToken: c.verifyAccessToken,
      recordRequest: (method, route, status, seconds) => recordHttp(c.metrics, method, route, status, seconds),
      logger: c.logger,
      https: false,
    })
    // "Koa" here is a stand-in that says it was asked: the lane must answer what it takes.
    const next = (req: http.IncomingMessage, res: http.ServerResponse) => {
      passedOn.push(`${req.method} ${req.url}`)
      res.writeHead(599).end()
    }
    lane = http.createServer((req, res) => {
      if (!take(req, res, next)) next(req, res)
    })
    await new Promise<void>((resolve) => lane.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(lane.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise((resolve) => lane?.close(resolve))
    await server?.close()
  })

  const post = (path: string, body: unknown, token = checker) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })

  const good: Record<string, [string, unknown]> = {
    '/access/v1/evaluation': [
      '/access/v1/evaluation',
      {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      },
    ],
    '/access/v1/evaluations': [
      '/access/v1/evaluations',
      {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        context: { store: 'docs' },
        evaluations: [{ resource: { type: 'doc', id: 'doc1' } }],
      },
    ],
    '/authz/v1/stores/:store/check': ['/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }],
    '/authz/v1/stores/:store/check/batch': [
      '/authz/v1/stores/docs/check/batch',
      { requests: [['alice', 'doc1', 'read']] },
    ],
    '/access/v1/search/subject': [
      '/access/v1/search/subject',
      {
        subject: { type: 'user' },
        action: { name: 'read' },
        resource: { type: 'doc', id: 'doc1' },
        context: { store: 'docs' },
      },
    ],
    '/access/v1/search/resource': [
      '/access/v1/search/resource',
      {
        subject: { type: 'user', id: 'alice' },
        action: { name: 'read' },
        resource: { type: 'doc' },
        context: { store: 'docs' },
      },
    ],
    '/access/v1/search/action': [
      '/access/v1/search/action',
      { subject: { type: 'user', id: 'alice' }, resource: { type: 'doc', id: 'doc1' }, context: { store: 'docs' } },
    ],
  }

  it('answers every declared decision route itself', async () => {
    const routes = decisionRoutes(server.container.authz.decide)
    expect(routes.map((r) => r.contract.path).sort()).toEqual(Object.keys(good).sort())
    for (const r of routes) {
      const [path, body] = good[r.contract.path]!
      const res = await post(path, body)
      expect(res.status, path).toBe(200)
      expect(res.headers.get('server-timing'), path).toMatch(/^pdp;dur=/)
      expect(JSON.stringify(await res.json()), path).toMatch(/"(allowed|decision)":true|"results":\[\{/)
    }
    expect(passedOn).toEqual([])
  })

  it('passes on whatever the contract refuses, for Koa to answer in the one error shape', async () => {
    passedOn.length = 0
    await post('/authz/v1/stores/docs/check', { request: [] }) // body: too few elements
    await post('/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'], extra: 1 }, auditor) // scope
    await post('/authz/v1/stores/docs/check', { request: ['alice', 'doc1', 'read'] }, fenced) // store it may not use
    await post('/authz/v1/stores/docs/check?x=1', { request: ['alice', 'doc1', 'read'] }) // query string
    await post('/access/v1/evaluation', { subject: { type: 'user' } }) // missing fields
    expect(passedOn).toEqual([
      'POST /authz/v1/stores/docs/check',
      'POST /authz/v1/stores/docs/check',
      'POST /authz/v1/stores/docs/check',
      'POST /authz/v1/stores/docs/check?x=1',
      'POST /access/v1/evaluation',
    ])
  })
})

import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * The upstream Casbin test cases (../shared/conformance/casbin-cases.json), every one that
 * node-casbin 5.51.1 agrees with, loaded as policy stores through the management API and
 * decided through the native check API.
 */
interface Case {
  request: unknown[]
  expected: boolean
  node_casbin_agrees: boolean
}
interface Model {
  id: string
  model_conf: string
  policy_csv: string
  setup: Record<string, unknown>
  cases: Case[]
}
const file = path.resolve(import.meta.dirname, '../../../shared/conformance/casbin-cases.json')
const data = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  meta: { node_casbin_agreeing: number }
  models: Record<string, Model>
}
const models = Object.values(data.models)
const storeName = (id: string) =>
  id
    .toLowerCase()
    .replace(/[^a-z0-9_-]/g, '-')
    .slice(0, 64)

let server: TestServer
let admin: string
beforeAll(async () => {
  server = await startTestServer()
  await registerServiceClients(server, [{ id: 'conformance', scope: 'authz:admin authz:check' }])
  admin = await apiToken(server, 'conformance', 'authz:admin authz:check')
})
afterAll(async () => {
  await server?.close()
})

describe('upstream Casbin cases over HTTP', () => {
  it('loads every model as a store and answers every agreeing case as upstream expects', async () => {
    let checked = 0
    const failures: string[] = []
    for (const m of models) {
      const created = await call(server, 'POST', '/authz/v1/stores', admin, {
        name: storeName(m.id),
        model: m.model_conf,
        policy: m.policy_csv,
        options: m.setup,
      })
      expect(created.status, `${m.id}: ${JSON.stringify(created.body)}`).toBe(201)
      const cases = m.cases.filter((c) => c.node_casbin_agrees)
      if (!cases.length) continue
      const r = await call(server, 'POST', `/authz/v1/stores/${storeName(m.id)}/check/batch`, admin, {
        requests: cases.map((c) => c.request),
      })
      expect(r.status, `${m.id}: ${JSON.stringify(r.body)}`).toBe(200)
      cases.forEach((c, i) => {
        checked++
        if (r.body.results[i].allowed !== c.expected)
          failures.push(`${m.id} ${JSON.stringify(c.request)} expected ${c.expected}`)
      })
    }
    expect(failures).toEqual([])
    expect(checked).toBe(data.meta.node_casbin_agreeing)
  })
})

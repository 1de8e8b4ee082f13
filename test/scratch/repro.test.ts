import http from 'node:http'
import { afterAll, beforeAll, it } from 'vitest'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, registerServiceClients } from '../helpers/api-client.ts'

let s: TestServer
let admin: string
const logs: string[] = []
beforeAll(async () => {
  s = await startTestServer({ kind: (process.env.KIND as 'sqlite') ?? 'sqlite', logSink: logs })
  await registerServiceClients(s, [{ id: 'root', scope: 'admin authz:admin audit:read apikeys:admin' }])
  admin = await apiToken(s, 'root', 'admin authz:admin audit:read apikeys:admin')
})
afterAll(async () => { await s?.close() })

function raw(method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method, path, headers: { host: `localhost:${s.port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString().slice(0, 200) }))
    })
    req.on('error', reject)
    if (body) req.write(body)
    req.end()
  })
}

it('repro', async () => {
  const auth = { authorization: `Bearer ${admin}` }
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cases: [string, string, Record<string, string>, string?][] = [
    ['GET', '/device/auth', {}],
    ['HEAD', '/device/auth', {}],
    ['POST', '/device', form, 'user_code=ABCD'],
    ['GET', '/.well-known/openid-configuration', { host: 'localhost:99999' }],
    ['GET', '/auth?client_id=x', { host: 'localhost:99999' }],
    ['GET', '/device', { host: 'localhost:99999' }],
    ['GET', '/session/end', { host: 'localhost:99999' }],
    ['POST', '/token', form, 'grant_type=client_credentials&client_id=a%00b&client_secret=x'],
    ['POST', '/token', form, 'grant_type=client_credentials&client_id=a%C3%28b&client_secret=x'],
    ['GET', '/auth?client_id=a%00b&response_type=code', {}],
    ['GET', '/audit/v1/events?actor=%00', auth],
    ['GET', '/audit/v1/events?actor=%FF', auth],
    ['GET', '/authz/v1/stores/%C3%A9/versions/1/policy.csv', auth],
    ['GET', '/authz/v1/stores/a%00b', auth],
    ['GET', '/account/callback?state=%C3%28', {}],
    ['GET', '/account/callback?state=%00&code=x', {}],
    ['POST', '/authz/v1/stores', { ...auth, 'content-type': 'application/json' }, JSON.stringify({ name: 'a\u0000b', model: 'rbac.conf' })],
    ['POST', '/access/v1/evaluation', { ...auth, 'content-type': 'application/json' }, '{"subject":{"type":"user","id":"a\\u0000"},"action":{"name":"r"},"resource":{"type":"d","id":"x"}}'],
    ['POST', '/apikeys/v1/keys', { ...auth, 'content-type': 'application/json' }, '{"name":"\\ud800x","owner":"client:root","scopes":["authz:check"]}'],
    ['POST', '/token/introspection', { ...form, authorization: 'Basic ' + Buffer.from('a%00:b').toString('base64') }, 'token=x'],
  ]
  for (const [m, p, h, b] of cases) {
    const r = await raw(m, p, h, b)
    console.log(m, p, r.status, r.body.replace(/\s+/g, ' ').slice(0, 140))
  }
  console.log(logs.filter((l) => l.includes('"level":50')).map((l) => l.slice(0, 300)).join('\n'))
}, 120_000)

import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { routeLabel } from '../../src/metrics/http.ts'

/**
 * /metrics: real traffic (a token grant, sign-ins through the login page, policy checks, an
 * API-key alert), then a scrape parsed as Prometheus text; access control on the main port and
 * the unauthenticated METRICS_LISTEN address.
 */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
function parse(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m) throw new Error(`not Prometheus text: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!
    out.push({ name: m[1]!, labels, value: Number(m[3]) })
  }
  return out
}
const find = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))
const value = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  find(s, name, labels).reduce((a, x) => a + x.value, 0)

let server: TestServer
let metricsPort: number
let reader: string
let samples: Sample[]
const CALLBACK = 'http://127.0.0.1:9/cb'

beforeAll(async () => {
  metricsPort = await freePort()
  server = await startTestServer({ env: { METRICS_LISTEN: `127.0.0.1:${metricsPort}` } })
  await registerServiceClients(server, [
    { id: 'prom', scope: 'audit:read' },
    { id: 'pep', scope: 'authz:check' },
  ])
  const { doc, problems } = await validateDocument(server.container, {
    clients: [
      {
        client_id: 'web',
        token_endpoint_auth_method: 'none',
        redirect_uris: [CALLBACK],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid',
      },
    ],
    users: [{ email: 'ann@example.com', password: 'a long passphrase here' }],
  })
  expect(problems).toEqual([])
  await applyDocument(server.container, doc!)
  reader = await apiToken(server, 'prom', 'audit:read')
  const pep = await apiToken(server, 'pep', 'authz:check')

  // Sign-ins through the real login page: one refused, one accepted.
  const config = await oidc.discovery(new URL(server.url), 'web', undefined, oidc.None(), {
    execute: [oidc.allowInsecureRequests],
  })
  const authUrl = async () =>
    oidc.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
    })
  expect(
    (
      await signIn(new UserAgent(server.url), await authUrl(), {
        email: 'ann@example.com',
        password: 'not the password at all',
      })
    ).failed,
  ).toBeTruthy()
  expect(
    (
      await signIn(new UserAgent(server.url), await authUrl(), {
        email: 'ann@example.com',
        password: 'a long passphrase here',
      })
    ).callback,
  ).toBeTruthy()

  // Policy decisions.
  await server.container.authz.stores.create(
    { name: 'docs', model: 'acl.conf', policy: 'p, alice, doc1, read\n' },
    'test',
  )
  expect(
    (await call(server, 'POST', '/authz/v1/stores/docs/check', pep, { request: ['alice', 'doc1', 'read'] })).body
      .allowed,
  ).toBe(true)
  expect(
    (await call(server, 'POST', '/authz/v1/stores/docs/check', pep, { request: ['bob', 'doc1', 'read'] })).body.allowed,
  ).toBe(false)

  // A lockout, an alert, and a checkpoint.
  await server.container.audit.record({
    action: 'user.locked',
    outcome: 'success',
    actor: 'system',
    target: 'u1',
    details: { failures: 5 },
  })
  await server.container.monitor.apiKeyRejected({ keyId: 'k-old', reason: 'revoked' })
  await server.container.monitor.settled() // the detectors run after the record, in order
  await server.container.audit.flush()
  await server.container.auditChain.checkpoint('manual')

  const r = await call(server, 'GET', '/metrics', reader)
  expect(r.status).toBe(200)
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  samples = parse(r.body)
})
afterAll(async () => {
  await server?.close()
})

describe('/metrics figures', () => {
  it('HTTP requests and latency by route template and status, never raw paths', () => {
    expect(
      value(samples, 'portcullis_http_requests_total', {
        route: '/authz/v1/stores/:store/check',
        method: 'POST',
        status: '200',
      }),
    ).toBe(2)
    expect(value(samples, 'portcullis_http_requests_total', { route: '/token', status: '200' })).toBeGreaterThanOrEqual(
      2,
    )
    expect(
      value(samples, 'portcullis_http_request_duration_seconds_count', { route: '/authz/v1/stores/:store/check' }),
    ).toBe(2)
    expect(
      find(samples, 'portcullis_http_requests_total').some((x) =>
        /\/interaction\/[A-Za-z0-9_-]{10,}/.test(x.labels.route!),
      ),
    ).toBe(false)
    expect(routeLabel(undefined, '/interaction/abcDEF123', 200)).toBe('/interaction/*')
    expect(routeLabel(undefined, '/no/such/thing', 404)).toBe('unmatched')
    expect(routeLabel(undefined, '/token/introspection', 200)).toBe('/token/introspection')
  })

  it('tokens issued by grant and client', () => {
    expect(
      value(samples, 'portcullis_tokens_issued_total', {
        grant_type: 'client_credentials',
        client_id: 'prom',
        outcome: 'success',
      }),
    ).toBe(1)
    expect(
      value(samples, 'portcullis_tokens_issued_total', { grant_type: 'client_credentials', client_id: 'pep' }),
    ).toBe(1)
  })

  it('logins by outcome and method, and lockouts', () => {
    expect(value(samples, 'portcullis_logins_total', { outcome: 'failure', method: 'pwd' })).toBe(1)
    expect(value(samples, 'portcullis_logins_total', { outcome: 'success', method: 'pwd' })).toBe(1)
    expect(value(samples, 'portcullis_lockouts_total')).toBe(1)
  })

  it('policy decisions by store and outcome with latency, and the version per store', () => {
    expect(value(samples, 'portcullis_policy_decisions_total', { store: 'docs', outcome: 'allow' })).toBe(1)
    expect(value(samples, 'portcullis_policy_decisions_total', { store: 'docs', outcome: 'deny' })).toBe(1)
    expect(value(samples, 'portcullis_policy_decision_duration_seconds_count', { store: 'docs' })).toBe(2)
    expect(value(samples, 'portcullis_policy_version', { store: 'docs' })).toBe(1)
  })

  it('signing key age, audit chain length, last checkpoint age, alerts', () => {
    const ages = find(samples, 'portcullis_signing_key_age_seconds')
    // every published key of the generation, the request-object encryption key too (its age matters alike)
    expect(ages.map((a) => a.labels.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
    for (const a of ages) expect(a.value).toBeGreaterThanOrEqual(0)
    expect(value(samples, 'portcullis_audit_chain_length')).toBeGreaterThanOrEqual(8)
    expect(value(samples, 'portcullis_audit_last_seq')).toBe(value(samples, 'portcullis_audit_chain_length'))
    const age = find(samples, 'portcullis_audit_last_checkpoint_age_seconds')
    expect(age).toHaveLength(1)
    expect(age[0]!.value).toBeLessThan(60)
    expect(value(samples, 'portcullis_security_alerts_total', { kind: 'apikey_misuse' })).toBe(1)
    expect(find(samples, 'portcullis_api_keys_near_expiry')).toHaveLength(1)
    expect(find(samples, 'process_cpu_user_seconds_total')).toHaveLength(1)
  })
})

describe('/metrics access', () => {
  it('needs a bearer token with audit:read or admin on the main port', async () => {
    const anonymous = await call(server, 'GET', '/metrics')
    expect(anonymous.status).toBe(401)
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/)
    expect((await call(server, 'GET', '/metrics', await apiToken(server, 'pep', 'authz:check'))).status).toBe(403)
    expect((await call(server, 'GET', '/metrics', 'garbage.token.value')).status).toBe(401)
    expect((await call(server, 'GET', '/metrics', reader, undefined, { authorization: 'Basic abc' })).status).toBe(401)
  })

  it('METRICS_LISTEN serves /metrics without authentication, and nothing else', async () => {
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
    expect(r.status).toBe(200)
    const s = parse(await r.text())
    expect(value(s, 'portcullis_logins_total', { outcome: 'success' })).toBe(1)
    expect((await fetch(`http://127.0.0.1:${metricsPort}/token`)).status).toBe(404)
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { method: 'POST' })).status).toBe(404)
  })
})

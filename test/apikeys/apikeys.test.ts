import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { issue } from '../helpers/apikeys.ts'

/**
 * API keys over HTTP: the key API (/apikeys/v1), every level's rules, expiry, rotation overlap,
 * revocation, IP allowlists (with trusted proxies), rate limits, usage, verification for
 * resource servers, and keys accepted by other portcullis APIs. Once on SQLite, once on
 * PostgreSQL + Redis when TEST_DATABASE_URL and TEST_REDIS_URL are set.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const DAY = 86400

describeOnBackends('apikeys.test.ts', 'API keys', ({ kind, redisUrl }) => {
  let server: TestServer
  let admin: string // apikeys:admin + admin
  let keyAdmin: string // apikeys:admin only
  let svc: string // a service account managing its own keys
  let rs: string // a resource server verifying keys
  let plain: string // a client with an unrelated scope
  let annId: string
  let annKey: string // ann's first key, issued by the admin (apikeys:manage authz:check)

  beforeAll(async () => {
    // 127.0.0.1 is "our proxy" here, so X-Forwarded-For is believed (tests below spoof it).
    server = await startTestServer({ kind, redisUrl, env: { TRUSTED_PROXIES: '127.0.0.1/32, ::1' } })
    await registerServiceClients(server, [
      { id: 'root', scope: 'apikeys:admin admin authz:check' },
      { id: 'keymaster', scope: 'apikeys:admin' },
      { id: 'svc', scope: 'apikeys:manage authz:check' },
      { id: 'rs', scope: 'apikeys:verify' },
      { id: 'plain', scope: 'authz:check' },
    ])
    ;[admin, keyAdmin, svc, rs, plain] = await Promise.all([
      apiToken(server, 'root', 'apikeys:admin admin authz:check'),
      apiToken(server, 'keymaster', 'apikeys:admin'),
      apiToken(server, 'svc', 'apikeys:manage authz:check'),
      apiToken(server, 'rs', 'apikeys:verify'),
      apiToken(server, 'plain', 'authz:check'),
    ])
    const ann = await server.container.users.create({
      email: 'ann@example.com',
      roles: ['apikeys:manage', 'authz:check'],
    })
    annId = ann.id
    annKey = (
      await issue(server, admin, {
        owner: 'user:ann@example.com',
        name: 'ann bootstrap',
        scopes: ['apikeys:manage', 'authz:check'],
        level: 'LOW',
      })
    ).key
  })
  afterAll(async () => {
    await server?.close()
  })

  describe('issuing and the key format', () => {
    it('a service account issues its own key; the secret is shown once and only a view is listed', async () => {
      const r = await call(server, 'POST', '/apikeys/v1/keys', svc, {
        name: 'ci',
        scopes: 'authz:check',
        level: 'MEDIUM',
      })
      expect(r.status).toBe(201)
      expect(r.headers.get('cache-control')).toBe('no-store')
      expect(r.body.key).toMatch(/^pcs_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}$/)
      expect(r.body.key.slice(4, 20)).toBe(r.body.id)
      expect(r.body).toMatchObject({
        owner: 'client:svc',
        name: 'ci',
        scopes: ['authz:check'],
        level: 'MEDIUM',
        status: 'active',
        created_by: 'client:svc',
      })
      // Default lifetime is the level's maximum.
      expect(Date.parse(r.body.expires_at) - Date.now()).toBeGreaterThan(179 * DAY * 1000)
      const got = await call(server, 'GET', `/apikeys/v1/keys/${r.body.id}`, svc)
      expect(got.status).toBe(200)
      expect(JSON.stringify(got.body)).not.toContain(r.body.key.slice(21))
      expect(got.body).not.toHaveProperty('key')
      const list = await call(server, 'GET', '/apikeys/v1/keys', svc)
      expect(list.body.keys.map((k: { id: string }) => k.id)).toContain(r.body.id)
      expect(JSON.stringify(list.body)).not.toMatch(/pcs_/)
      // The key is accepted by other portcullis APIs (here: the policy decision point).
      const stores = await call(server, 'GET', '/authz/v1/stores', r.body.key)
      expect(stores.status).toBe(200)
    })

    it('a user issues keys with a key of theirs, never wider or weaker than it', async () => {
      const mine = await call(server, 'POST', '/apikeys/v1/keys', annKey, {
        name: 'laptop',
        scopes: ['authz:check'],
        level: 'LOW',
      })
      expect(mine.status).toBe(201)
      expect(mine.body.owner).toBe(`user:${annId}`)
      expect(mine.body.created_by).toMatch(/^apikey:/)
      const wider = await call(server, 'POST', '/apikeys/v1/keys', annKey, {
        name: 'x',
        scopes: ['authz:admin'],
        level: 'LOW',
      })
      expect(wider.status).toBe(403) // ann may not hold authz:admin at all
      const medium = await issue(server, admin, {
        owner: `user:${annId}`,
        name: 'medium',
        scopes: ['apikeys:manage'],
        level: 'MEDIUM',
      })
      const weaker = await call(server, 'POST', '/apikeys/v1/keys', medium.key, {
        name: 'y',
        scopes: ['apikeys:manage'],
        level: 'LOW',
      })
      expect(weaker.status).toBe(403)
      expect(weaker.body.error).toBe('level_not_allowed')
      const notHeld = await call(server, 'POST', '/apikeys/v1/keys', medium.key, {
        name: 'z',
        scopes: ['authz:check'],
        level: 'MEDIUM',
      })
      expect(notHeld.status).toBe(403)
      expect(notHeld.body.error_description).toMatch(/does not have itself/)
    })

    it("a key never carries more than its owner: scopes outside the client's registration are refused", async () => {
      const r = await call(server, 'POST', '/apikeys/v1/keys', svc, {
        name: 'greedy',
        scopes: ['authz:admin'],
        level: 'LOW',
      })
      expect(r.status).toBe(403)
      expect(r.body.error).toBe('scope_not_allowed')
      const forOther = await call(server, 'POST', '/apikeys/v1/keys', svc, {
        owner: 'client:plain',
        name: 'n',
        level: 'LOW',
      })
      expect(forOther.status).toBe(403)
      const byAdmin = await call(server, 'POST', '/apikeys/v1/keys', keyAdmin, {
        owner: 'client:plain',
        name: 'n',
        scopes: 'authz:check',
        level: 'LOW',
      })
      expect(byAdmin.status).toBe(201)
      expect(
        (await call(server, 'POST', '/apikeys/v1/keys', keyAdmin, { owner: 'client:nobody', name: 'n', level: 'LOW' }))
          .status,
      ).toBe(404)
    })

    it('rejects a mistyped key by its checksum and an unknown one with 401', async () => {
      const k = (
        await issue(server, admin, { owner: 'client:svc', name: 'typo', scopes: ['authz:check'], level: 'LOW' })
      ).key
      const typo = k.slice(0, 30) + (k[30] === 'a' ? 'b' : 'a') + k.slice(31)
      const r = await call(server, 'GET', '/authz/v1/stores', typo)
      expect(r.status).toBe(401)
      expect(r.headers.get('www-authenticate')).toMatch(/invalid_token/)
      expect(r.body.error_description).toMatch(/checksum/)
      expect((await call(server, 'GET', '/authz/v1/stores', 'pcs_short')).status).toBe(401)
    })
  })

  describe('levels', () => {
    const base = { owner: 'client:svc', scopes: ['authz:check'] }
    const create = (body: Record<string, unknown>) =>
      call(server, 'POST', '/apikeys/v1/keys', admin, { ...base, name: 'lvl', ...body })

    it('maximum lifetimes: 365 / 180 / 90 / 30 days', async () => {
      const extra = { allowed_ips: ['127.0.0.1'], signing: { alg: 'hmac-sha256' } }
      for (const [level, days] of [
        ['LOW', 365],
        ['MEDIUM', 180],
        ['HIGH', 90],
        ['CRITICAL', 30],
      ] as const) {
        const ok = await create({ level, expires_in: days * DAY, ...extra })
        expect(ok.status, level).toBe(201)
        const tooLong = await create({ level, expires_in: (days + 1) * DAY, ...extra })
        expect(tooLong.status, level).toBe(400)
        expect(tooLong.body.error_description).toContain(`lives at most ${days} days`)
      }
    })

    it('HIGH needs an IP allowlist; CRITICAL needs an allowlist and signed requests', async () => {
      expect((await create({ level: 'HIGH' })).body.error_description).toMatch(/IP allowlist/)
      expect((await create({ level: 'HIGH', allowed_ips: ['10.0.0.0/8'] })).status).toBe(201)
      const c1 = await create({ level: 'CRITICAL', allowed_ips: ['10.0.0.0/8'] })
      expect(c1.status).toBe(400)
      expect(c1.body.error_description).toMatch(/signed requests/)
      const c2 = await create({ level: 'CRITICAL', signing: { alg: 'hmac-sha256' } })
      expect(c2.body.error_description).toMatch(/IP allowlist/)
      const ok = await create({ level: 'CRITICAL', allowed_ips: ['10.0.0.0/8'], signing: { alg: 'hmac-sha256' } })
      expect(ok.status).toBe(201)
      expect(ok.body.signing_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect((await call(server, 'GET', `/apikeys/v1/keys/${ok.body.id}`, admin)).body).not.toHaveProperty(
        'signing_secret',
      )
    })

    it("CRITICAL with admin scopes waits for an administrator's approval", async () => {
      const r = await call(server, 'POST', '/apikeys/v1/keys', keyAdmin, {
        owner: 'client:keymaster',
        name: 'crit',
        scopes: ['apikeys:admin'],
        level: 'CRITICAL',
        allowed_ips: ['127.0.0.1'],
        signing: { alg: 'hmac-sha256' },
      })
      expect(r.status).toBe(201)
      expect(r.body.status).toBe('pending_approval')
      expect(r.body.approved_by).toBeNull()
      // Not usable yet (the verify endpoint answers inactive).
      expect(
        (await call(server, 'POST', '/apikeys/v1/verify', rs, { token: r.body.key, ip: '127.0.0.1' })).body,
      ).toEqual({ active: false })
      expect((await call(server, 'POST', `/apikeys/v1/keys/${r.body.id}/approve`, keyAdmin)).status).toBe(403)
      const approved = await call(server, 'POST', `/apikeys/v1/keys/${r.body.id}/approve`, admin)
      expect(approved.status).toBe(200)
      expect(approved.body).toMatchObject({ status: 'active', approved_by: 'client:root' })
      // An administrator issuing such a key approves it by doing so.
      const byAdmin = await call(server, 'POST', '/apikeys/v1/keys', admin, {
        owner: 'client:root',
        name: 'crit2',
        scopes: ['admin'],
        level: 'CRITICAL',
        allowed_ips: ['127.0.0.1'],
        signing: { alg: 'hmac-sha256' },
      })
      expect(byAdmin.body).toMatchObject({ status: 'active', approved_by: 'client:root' })
    })

    it('a level can be raised when the key meets the rules, and only lowered by re-issuing', async () => {
      const k = await issue(server, admin, { ...base, name: 'raise', level: 'LOW', expires_in: 30 * DAY })
      const noAllowlist = await call(server, 'PATCH', `/apikeys/v1/keys/${k.id}`, admin, { level: 'HIGH' })
      expect(noAllowlist.status).toBe(400)
      const raised = await call(server, 'PATCH', `/apikeys/v1/keys/${k.id}`, admin, {
        level: 'HIGH',
        allowed_ips: ['127.0.0.1/32'],
      })
      expect(raised.status).toBe(200)
      expect(raised.body).toMatchObject({ level: 'HIGH', allowed_ips: ['127.0.0.1/32'] })
      const lowered = await call(server, 'PATCH', `/apikeys/v1/keys/${k.id}`, admin, { level: 'MEDIUM' })
      expect(lowered.status).toBe(409)
      expect(lowered.body).toMatchObject({ error: 'level_lowering' })
      // A LOW key living 200 days cannot become MEDIUM (180 days max).
      const long = await issue(server, admin, { ...base, name: 'long', level: 'LOW', expires_in: 200 * DAY })
      expect((await call(server, 'PATCH', `/apikeys/v1/keys/${long.id}`, admin, { level: 'MEDIUM' })).status).toBe(400)
    })
  })

  describe('expiry, rotation and revocation', () => {
    it('an expired key stops working', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'short',
        scopes: ['authz:check'],
        level: 'LOW',
        expires_in: 1,
      })
      expect((await call(server, 'GET', '/authz/v1/stores', k.key)).status).toBe(200)
      await sleep(1100)
      const r = await call(server, 'GET', '/authz/v1/stores', k.key)
      expect(r.status).toBe(401)
      expect(r.body.error_description).toMatch(/expired/)
      expect((await call(server, 'GET', `/apikeys/v1/keys/${k.id}`, admin)).body.status).toBe('expired')
    })

    it('rotate keeps the old key valid for the grace period (default 24 h), then it dies', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'rot',
        scopes: ['authz:check'],
        level: 'MEDIUM',
        expires_in: 100 * DAY,
      })
      const dflt = await call(server, 'POST', `/apikeys/v1/keys/${k.id}/rotate`, svc)
      expect(dflt.status).toBe(201)
      expect(Math.abs(Date.parse(dflt.body.previous.expires_at) - Date.now() - DAY * 1000)).toBeLessThan(60_000)
      expect(dflt.body).toMatchObject({ name: 'rot', level: 'MEDIUM', scopes: ['authz:check'], owner: 'client:svc' })
      // same lifetime as the original
      expect(Date.parse(dflt.body.expires_at) - Date.now()).toBeGreaterThan(99 * DAY * 1000)
      expect((await call(server, 'POST', `/apikeys/v1/keys/${k.id}/rotate`, svc)).status).toBe(409) // already rotated

      const next = dflt.body
      const short = await call(server, 'POST', `/apikeys/v1/keys/${next.id}/rotate`, svc, { grace_seconds: 1 })
      expect(short.status).toBe(201)
      expect((await call(server, 'GET', '/authz/v1/stores', next.key)).status).toBe(200) // overlap
      expect((await call(server, 'GET', '/authz/v1/stores', short.body.key)).status).toBe(200)
      expect((await call(server, 'GET', `/apikeys/v1/keys/${next.id}`, svc)).body).toMatchObject({
        status: 'rotated',
        rotated_to: short.body.id,
      })
      await sleep(1100)
      const dead = await call(server, 'GET', '/authz/v1/stores', next.key)
      expect(dead.status).toBe(401)
      expect(dead.body.error_description).toMatch(/rotated/)
      expect((await call(server, 'GET', '/authz/v1/stores', short.body.key)).status).toBe(200)
    })

    it('revoke takes effect at once; revoking twice is fine', async () => {
      const k = await issue(server, admin, {
        owner: `user:${annId}`,
        name: 'rev',
        scopes: ['authz:check'],
        level: 'LOW',
      })
      expect((await call(server, 'GET', '/authz/v1/stores', k.key)).status).toBe(200)
      const r = await call(server, 'POST', `/apikeys/v1/keys/${k.id}/revoke`, annKey)
      expect(r.status).toBe(200)
      expect(r.body.status).toBe('revoked')
      const after = await call(server, 'GET', '/authz/v1/stores', k.key)
      expect(after.status).toBe(401)
      expect(after.body.error_description).toMatch(/revoked/)
      expect((await call(server, 'DELETE', `/apikeys/v1/keys/${k.id}`, annKey)).status).toBe(200)
      expect((await call(server, 'POST', `/apikeys/v1/keys/${k.id}/rotate`, annKey)).status).toBe(409)
      const events = await server.container.audit.list({ action: 'apikey.revoked' })
      expect(events.some((e) => e.target === `apikey:${k.id}`)).toBe(true)
      const rejected = await server.container.audit.list({ action: 'apikey.rejected' })
      expect(rejected.some((e) => e.target === k.id)).toBe(true)
    })

    it('expiry warnings are audit events, once per key, and countable for metrics', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'soon',
        scopes: ['authz:check'],
        level: 'LOW',
        expires_in: 2 * DAY,
      })
      const svcApi = server.container.apikeys
      expect(await svcApi.sweepExpiring()).toBeGreaterThanOrEqual(1)
      expect(await svcApi.sweepExpiring()).toBe(0)
      const events = await server.container.audit.list({ action: 'apikey.expiring' })
      expect(events.filter((e) => e.target === `apikey:${k.id}`)).toHaveLength(1)
      expect(await svcApi.countExpiringSoon()).toBeGreaterThanOrEqual(1)
      expect(await svcApi.countExpiringSoon(DAY)).toBe(0)
    })
  })

  describe('IP allowlists, rate limits and usage', () => {
    it('allows listed addresses, denies others, believes X-Forwarded-For only from trusted proxies', async () => {
      const local = await issue(server, admin, {
        owner: 'client:svc',
        name: 'ip1',
        scopes: ['authz:check'],
        level: 'HIGH',
        allowed_ips: ['127.0.0.0/8', '::1'],
      })
      expect((await call(server, 'GET', '/authz/v1/stores', local.key)).status).toBe(200)
      const office = await issue(server, admin, {
        owner: 'client:svc',
        name: 'ip2',
        scopes: ['authz:check'],
        level: 'HIGH',
        allowed_ips: ['10.0.0.0/8', '2001:db8::/32'],
      })
      const denied = await call(server, 'GET', '/authz/v1/stores', office.key)
      expect(denied.status).toBe(403)
      expect(denied.body.error).toBe('ip_not_allowed')
      // 127.0.0.1 is a trusted proxy in this server: the address it forwards is the client.
      expect(
        (await call(server, 'GET', '/authz/v1/stores', office.key, undefined, { 'x-forwarded-for': '10.1.2.3' }))
          .status,
      ).toBe(200)
      expect(
        (await call(server, 'GET', '/authz/v1/stores', office.key, undefined, { 'x-forwarded-for': '2001:db8::5' }))
          .status,
      ).toBe(200)
      // A client cannot pick its address by prepending to the header: the rightmost untrusted hop counts.
      expect(
        (
          await call(server, 'GET', '/authz/v1/stores', office.key, undefined, {
            'x-forwarded-for': '10.1.2.3, 192.0.2.7',
          })
        ).status,
      ).toBe(403)
    })

    it('answers 429 with Retry-After over the per-key rate limit', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'rl',
        scopes: ['authz:check'],
        level: 'LOW',
        rate_limit: 3,
      })
      for (let i = 0; i < 3; i++) expect((await call(server, 'GET', '/authz/v1/stores', k.key)).status).toBe(200)
      const r = await call(server, 'GET', '/authz/v1/stores', k.key)
      expect(r.status).toBe(429)
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(r.body.error).toBe('rate_limited')
    })

    it('records last use and counts, flushed in batches', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'usage',
        scopes: ['authz:check'],
        level: 'LOW',
      })
      for (let i = 0; i < 4; i++) await call(server, 'GET', '/authz/v1/stores', k.key)
      const before = await call(server, 'GET', `/apikeys/v1/keys/${k.id}`, admin)
      expect(before.body.use_count).toBe(0) // not written per request
      await server.container.apikeys.flushUsage()
      const after = await call(server, 'GET', `/apikeys/v1/keys/${k.id}`, admin)
      expect(after.body.use_count).toBe(4)
      expect(after.body.last_used_ip).toBe('127.0.0.1')
      expect(Date.now() - Date.parse(after.body.last_used_at)).toBeLessThan(60_000)
    })
  })

  describe('verification for resource servers (RFC 7662 shape)', () => {
    it('answers active with sub, scope, client_id, exp, level and key_id', async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'rs',
        scopes: ['authz:check'],
        level: 'MEDIUM',
      })
      const r = await call(server, 'POST', '/apikeys/v1/verify', rs, { token: k.key })
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({
        active: true,
        sub: 'svc',
        client_id: 'svc',
        scope: 'authz:check',
        level: 'MEDIUM',
        key_id: k.id,
        token_type: 'api_key',
      })
      expect(r.body.exp).toBe(Math.floor(Date.parse(k.expires_at as string) / 1000))
      const user = await issue(server, admin, { owner: 'user:ann@example.com', name: 'rs2', level: 'LOW' })
      const form = await call(server, 'POST', '/apikeys/v1/verify', rs, `token=${user.key}`, {
        'content-type': 'application/x-www-form-urlencoded',
      })
      expect(form.body).toMatchObject({ active: true, sub: annId, scope: '' })
      expect(form.body).not.toHaveProperty('client_id')
      await call(server, 'POST', `/apikeys/v1/keys/${k.id}/revoke`, admin)
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: k.key })).body).toEqual({ active: false })
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: 'pcs_nonsense' })).body).toEqual({
        active: false,
      })
    })

    it("checks the caller's IP for allowlisted keys", async () => {
      const k = await issue(server, admin, {
        owner: 'client:svc',
        name: 'rs-ip',
        scopes: ['authz:check'],
        level: 'HIGH',
        allowed_ips: ['10.0.0.0/8'],
      })
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: k.key, ip: '10.9.9.9' })).body.active).toBe(
        true,
      )
      expect(
        (await call(server, 'POST', '/apikeys/v1/verify', rs, { token: k.key, ip: '192.0.2.1' })).body.active,
      ).toBe(false)
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: k.key })).body.active).toBe(false)
    })
  })

  describe('wrong credentials and malformed input', () => {
    it("401 without or with a bad credential, 403 without the scope, 404 for another owner's key", async () => {
      expect((await call(server, 'GET', '/apikeys/v1/keys')).status).toBe(401)
      expect((await call(server, 'GET', '/apikeys/v1/keys', 'not-a-token')).status).toBe(401)
      expect((await call(server, 'GET', '/apikeys/v1/keys', plain)).status).toBe(403)
      expect((await call(server, 'POST', '/apikeys/v1/verify', svc, { token: annKey })).status).toBe(403)
      expect((await call(server, 'POST', '/apikeys/v1/verify', undefined, { token: annKey })).status).toBe(401)
      const other = await issue(server, admin, {
        owner: 'client:plain',
        name: 'other',
        scopes: ['authz:check'],
        level: 'LOW',
      })
      expect((await call(server, 'GET', `/apikeys/v1/keys/${other.id}`, svc)).status).toBe(404)
      expect((await call(server, 'POST', `/apikeys/v1/keys/${other.id}/revoke`, svc)).status).toBe(404)
      expect((await call(server, 'GET', '/apikeys/v1/keys?owner=client:plain', svc)).status).toBe(403)
      expect((await call(server, 'GET', `/apikeys/v1/keys/${other.id}`, keyAdmin)).status).toBe(200)
      // A key without apikeys:manage cannot manage keys, even its own.
      expect((await call(server, 'GET', '/apikeys/v1/keys', other.key)).status).toBe(403)
    })

    it('bad input is a 4xx naming the problem', async () => {
      const post = (body: unknown, headers?: Record<string, string>) =>
        call(server, 'POST', '/apikeys/v1/keys', admin, body, headers)
      expect((await post('{"name": ')).status).toBe(400)
      expect((await post({ name: 'x', owner: 'client:svc', level: 'EXTREME' })).body.error_description).toMatch(/level/)
      expect((await post({ name: 'x', owner: 'client:svc', colour: 'red' })).status).toBe(400)
      expect((await post({ owner: 'client:svc' })).body.error_description).toMatch(/name/)
      expect((await post({ name: 'x', owner: 'svc' })).status).toBe(400)
      expect(
        (await post({ name: 'x', owner: 'client:svc', level: 'HIGH', allowed_ips: ['10.0.0.0/33'] })).body
          .error_description,
      ).toMatch(/allowed_ips/)
      expect(
        (await post({ name: 'x', owner: 'client:svc', expires_at: '2020-01-01T00:00:00Z' })).body.error_description,
      ).toMatch(/future/)
      expect(
        (await post({ name: 'x', owner: 'client:svc', signing: { alg: 'ed25519', public_key: 'nope' } })).body
          .error_description,
      ).toMatch(/public_key/)
      expect((await post('name=x', { 'content-type': 'text/plain' })).status).toBe(415)
      expect((await call(server, 'GET', '/apikeys/v1/keys/not-an-id', admin)).status).toBe(400)
      expect((await call(server, 'POST', '/apikeys/v1/keys/AAAAAAAAAAAAAAAA/rotate', admin)).status).toBe(404)
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { key: 'x' })).status).toBe(400)
      expect((await call(server, 'POST', '/apikeys/v1/verify', rs, { token: 'x', ip: 'nope' })).status).toBe(400)
      expect((await call(server, 'GET', '/apikeys/v1/keys?owner=user:nobody@example.com', admin)).status).toBe(404)
    })
  })
})

import crypto from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { signRequest } from '../../src/apikeys/client.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients, untilStatus } from '../helpers/api-client.ts'
import { issue } from '../helpers/apikeys.ts'

/**
 * Two server instances sharing one database (and Redis in the second variant): a key revoked
 * on one stops working on the other long before the 60 s cache lifetime even though the other had it cached; a
 * rotation is seen too. With Redis, a signed request replayed to the other instance is caught.
 */

describeOnBackends(
  'apikeys-instances.test.ts',
  'two instances',
  ({ kind, redisUrl }) => {
    let a: TestServer
    let b: TestServer
    let admin: string
    const masterKey = crypto.randomBytes(32).toString('base64')

    beforeAll(async () => {
      a = await startTestServer({ kind, redisUrl, masterKey })
      // Same database, master key and Redis prefix: one deployment, two instances.
      b = await startTestServer({
        kind,
        db: a.db,
        masterKey,
        ...(redisUrl ? { redisUrl, env: { REDIS_PREFIX: a.config.REDIS_PREFIX } } : {}),
      })
      await registerServiceClients(a, [
        { id: 'root', scope: 'apikeys:admin admin authz:check' },
        { id: 'svc', scope: 'apikeys:manage authz:check' },
      ])
      admin = await apiToken(a, 'root', 'apikeys:admin admin authz:check')
    })
    afterAll(async () => {
      await b?.close()
      await a?.close()
    })

    const until = (server: TestServer, key: string, status: number) =>
      untilStatus(server, '/authz/v1/stores', key, status)

    it('revocation on instance A is effective on instance B long before the 60 s cache lifetime', async () => {
      const k = await issue(a, admin, { owner: 'client:svc', name: 'shared', scopes: ['authz:check'], level: 'LOW' })
      // Warm B's cache with the valid key.
      for (let i = 0; i < 3; i++) expect((await call(b, 'GET', '/authz/v1/stores', k.key)).status).toBe(200)
      const revoked = await call(a, 'POST', `/apikeys/v1/keys/${k.id}/revoke`, admin)
      expect(revoked.status).toBe(200)
      const ms = await until(b, k.key, 401)
      expect(ms).not.toBe(Infinity)
    })

    it('a rotation with no grace on A ends the old key on B long before the 60 s cache lifetime', async () => {
      const k = await issue(a, admin, { owner: 'client:svc', name: 'rot', scopes: ['authz:check'], level: 'LOW' })
      expect((await call(b, 'GET', '/authz/v1/stores', k.key)).status).toBe(200)
      const r = await call(a, 'POST', `/apikeys/v1/keys/${k.id}/rotate`, admin, { grace_seconds: 0 })
      expect(r.status).toBe(201)
      expect(await until(b, k.key, 401)).not.toBe(Infinity)
      expect((await call(b, 'GET', '/authz/v1/stores', r.body.key)).status).toBe(200)
    })

    it('X-Forwarded-For is ignored without TRUSTED_PROXIES', async () => {
      const k = await issue(a, admin, {
        owner: 'client:svc',
        name: 'ip',
        scopes: ['authz:check'],
        level: 'HIGH',
        allowed_ips: ['10.0.0.0/8'],
      })
      expect(
        (await call(b, 'GET', '/authz/v1/stores', k.key, undefined, { 'x-forwarded-for': '10.1.2.3' })).status,
      ).toBe(403)
    })

    it.skipIf(!redisUrl)('a signed request replayed to the other instance is caught (nonces in Redis)', async () => {
      const k = await issue(a, admin, {
        owner: 'client:svc',
        name: 'sig',
        scopes: ['authz:check'],
        level: 'CRITICAL',
        allowed_ips: ['127.0.0.1', '::1'],
        signing: { alg: 'hmac-sha256' },
      })
      // Both instances are the same deployment, so the target URI is instance A's public URL path on each.
      const headersA = signRequest({
        method: 'GET',
        url: `${a.url}/authz/v1/stores`,
        keyId: k.id,
        signing: { alg: 'hmac-sha256', secret: k.signing_secret! },
      })
      expect((await call(a, 'GET', '/authz/v1/stores', k.key, undefined, headersA)).status).toBe(200)
      // B's PUBLIC_URL differs (another port in tests), so replay through B's verify endpoint,
      // where the resource server names the original target URI.
      // (An access token is bound to its issuer, PUBLIC_URL, which differs per test instance; an
      // API key works on every instance.)
      const rs = (await issue(a, admin, { owner: 'client:root', name: 'rs', scopes: ['apikeys:admin'], level: 'LOW' }))
        .key
      const replay = await call(b, 'POST', '/apikeys/v1/verify', rs, {
        token: k.key,
        ip: '127.0.0.1',
        request: { method: 'GET', target_uri: `${a.url}/authz/v1/stores`, headers: headersA },
      })
      expect(replay.body).toEqual({ active: false })
    })
  },
  ['SQLite, no Redis (generation poll)', 'PostgreSQL + Redis (pub/sub)'],
)

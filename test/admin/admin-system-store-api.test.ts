import { afterAll, beforeAll, expect, it } from 'vitest'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'

/**
 * Holding `authz:admin` (the policy store API) is not a way to become an administrator: the
 * built-in `system` store refuses every change through /authz/v1, and stays readable.
 */
describeOnBackends(
  'admin-system-store-api.test.ts',
  'the system store through the policy API',
  ({ kind, redisUrl }) => {
    let server: TestServer
    let token: string
    let intruderId: string

    beforeAll(async () => {
      server = await startTestServer({ kind, redisUrl, env: { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' } })
      await ensureAdmin(server.container)
      await ensureSystemPolicyStore(server.container)
      await registerServiceClients(server, [{ id: 'policy-bot', scope: 'authz:admin authz:check' }])
      token = await apiToken(server, 'policy-bot', 'authz:admin authz:check')
      intruderId = (
        await adminServices(server.container).users.create({ kind: 'cli' }, { email: 'intruder@example.com' })
      ).user.id
    }, 120_000)
    afterAll(async () => server?.close())

    it('refuses to change, roll back or re-create it with 403, and the intruder holds nothing', async () => {
      const line = ['g', `user:${intruderId}`, 'admin']
      const change = await call(server, 'POST', '/authz/v1/stores/system/versions', token, { add: [line] })
      expect(change.status).toBe(403)
      expect(change.body).toMatchObject({ error: 'reserved_store' })
      expect((await call(server, 'POST', '/authz/v1/stores/system/rollback', token, { to: 1 })).status).toBe(403)
      expect(
        (await call(server, 'POST', '/authz/v1/stores', token, { name: 'system', model: 'rbac.conf' })).status,
      ).toBe(403)
      expect(await adminServices(server.container).authority.may({ kind: 'user', id: intruderId }, 'users:read')).toBe(
        false,
      )
      // bad credentials are still a 401, before any store logic
      expect(
        (await call(server, 'POST', '/authz/v1/stores/system/versions', 'not-a-token', { add: [line] })).status,
      ).toBe(401)
      // reading it is allowed (who holds which admin role is not a secret to a policy administrator)
      const read = await call(server, 'GET', '/authz/v1/stores/system', token)
      expect(read.status).toBe(200)
    })
  },
)

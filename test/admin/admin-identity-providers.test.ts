import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { AdminRole } from '../../src/admin/authority.ts'
import { adminServices, ensureSystemPolicyStore } from '../../src/admin/service.ts'
import { ensureAdmin } from '../../src/bootstrap.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { apiToken, call, registerServiceClients } from '../helpers/api-client.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { CALLBACK, startAuth } from '../helpers/strong-login.ts'
import { field, UserAgent } from '../helpers/user-agent.ts'

/**
 * Upstream identity providers through the admin API (issue 14 §6 "configured in the import file
 * and the admin API"; issue 12 §1): the import file's schema and presets, secrets sealed and
 * never returned, ETag / If-Match, decided by the system store (`idps:read`, `idps:write`),
 * audited without secrets, and seen by the sign-in page of every instance.
 */
const SECRET = 'upstream-client-secret-do-not-leak-7f3a'

describeOnBackends(
  'admin-identity-providers.test.ts',
  'identity providers through the admin API',
  ({ kind, redisUrl }) => {
    let a: TestServer
    let b: TestServer
    const web = new Map<TestServer, oidc.Configuration>()
    const tokens: Record<string, string> = {}

    beforeAll(async () => {
      const masterKey = Buffer.alloc(32, 7).toString('base64')
      a = await startTestServer({
        kind,
        redisUrl,
        masterKey,
        env: { PORTCULLIS_ADMIN_PASSWORD: 'bootstrap pass phrase 42' },
      })
      // a second instance on the same database (and Redis): the change must reach its sign-in page
      b = await startTestServer({ kind, redisUrl, masterKey, db: a.db })
      await ensureAdmin(a.container)
      await ensureSystemPolicyStore(a.container)
      const roles: Record<string, AdminRole | undefined> = {
        root: 'admin',
        um: 'user-manager',
        cm: 'client-manager',
        pe: 'policy-editor',
        hd: 'helpdesk',
        aud: 'auditor',
        nobody: undefined,
      }
      await registerServiceClients(
        a,
        Object.keys(roles).map((id) => ({ id, scope: 'admin' })),
      )
      const admin = adminServices(a.container)
      for (const [id, role] of Object.entries(roles)) {
        if (role) await admin.authority.grant({ kind: 'cli' }, { type: 'client', id }, role)
        tokens[id] = await apiToken(a, id, 'admin')
      }
      const { doc, problems } = await validateDocument(a.container, {
        clients: [
          {
            client_id: 'web',
            client_secret: 'web-secret-0123456789abcdef',
            redirect_uris: [CALLBACK],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            scope: 'openid email',
          },
        ],
      })
      expect(problems).toEqual([])
      await applyDocument(a.container, doc!)
      for (const s of [a, b])
        web.set(
          s,
          await oidc.discovery(
            new URL(s.url),
            'web',
            'web-secret-0123456789abcdef',
            oidc.ClientSecretBasic('web-secret-0123456789abcdef'),
            { execute: [oidc.allowInsecureRequests] },
          ),
        )
    }, 240_000)
    afterAll(async () => {
      await b?.close()
      await a?.close()
    })

    const api = (
      who: string | undefined,
      method: string,
      path: string,
      body?: unknown,
      headers?: Record<string, string>,
    ) =>
      call(
        a,
        method,
        `/admin/v1/identity-providers${path}`,
        who === undefined ? undefined : (tokens[who] ?? who),
        body,
        headers,
      )
    // plain OAuth 2.0 with explicit endpoints: the sign-in button leads there without discovery
    const acme = {
      alias: 'acme',
      display_name: 'Acme SSO',
      type: 'oauth2',
      client_id: 'portcullis-at-acme',
      client_secret: SECRET,
      authorization_endpoint: 'http://127.0.0.1:9/authorize',
      token_endpoint: 'http://127.0.0.1:9/token',
      userinfo_endpoint: 'http://127.0.0.1:9/user',
      default_roles: ['staff'],
    }
    async function signInPage(server: TestServer) {
      const ua = new UserAgent(server.url)
      return { ua, ...(await startAuth(ua, web.get(server)!)) }
    }

    it('creates, lists, reads, updates with If-Match and deletes a provider; secrets sealed, never returned, never audited', async () => {
      const before = await signInPage(b)
      expect(before.html).not.toContain('Sign in with Acme SSO')

      const created = await api('root', 'POST', '', acme)
      expect(created.status, JSON.stringify(created.body)).toBe(201)
      expect(created.body).toMatchObject({
        alias: 'acme',
        hasClientSecret: true,
        hasPrivateKey: false,
        config: { alias: 'acme', display_name: 'Acme SSO', client_id: 'portcullis-at-acme', enabled: true, pkce: true },
      })
      expect(created.headers.get('etag')).toBe(created.body.etag)
      expect(JSON.stringify(created.body)).not.toContain(SECRET)
      const row = await a.container.db.identityProvider.findUnique({ where: { alias: 'acme' } })
      expect(JSON.stringify(row)).not.toContain(SECRET)

      // the button appears on the other instance's sign-in page and leads to the upstream
      let page = await signInPage(b)
      for (let i = 0; i < 150 && !page.html.includes('Sign in with Acme SSO'); i++) {
        await new Promise((r) => setTimeout(r, 100))
        page = await signInPage(b)
      }
      expect(page.html).toContain('data-provider="acme"')
      const action = /action="(\/interaction\/[\w-]+\/federation\/acme)"/.exec(page.html)![1]!
      const go = await page.ua.request(action, { form: { csrf: field(page.html, 'csrf') } })
      expect(go.status).toBe(303)
      const upstream = new URL(go.headers.get('location')!)
      expect(upstream.origin + upstream.pathname).toBe('http://127.0.0.1:9/authorize')
      expect(upstream.searchParams.get('client_id')).toBe('portcullis-at-acme')
      expect(upstream.searchParams.get('code_challenge_method')).toBe('S256')

      const list = await api('aud', 'GET', '')
      expect(list.status).toBe(200)
      expect(list.body.items.map((p: { alias: string }) => p.alias)).toContain('acme')
      expect(JSON.stringify(list.body)).not.toContain(SECRET)
      const read = await api('aud', 'GET', '/acme')
      expect(read.status).toBe(200)
      const etag = read.headers.get('etag')!
      expect(etag).toBe(created.body.etag)

      // a replacement without the secret keeps the stored one
      const { client_secret: _, ...withoutSecret } = acme
      const renamed = await api(
        'root',
        'PUT',
        '/acme',
        { ...withoutSecret, display_name: 'Acme Login' },
        { 'if-match': etag },
      )
      expect(renamed.status, JSON.stringify(renamed.body)).toBe(200)
      expect(renamed.body).toMatchObject({ hasClientSecret: true, config: { display_name: 'Acme Login' } })
      expect(renamed.headers.get('etag')).not.toBe(etag)
      expect((await a.container.db.identityProvider.findUnique({ where: { alias: 'acme' } }))!.secret).toBe(row!.secret)
      // a second administrator still holding the old ETag
      const stale = await api(
        'root',
        'PUT',
        '/acme',
        { ...withoutSecret, display_name: 'Overwritten' },
        { 'if-match': etag },
      )
      expect(stale.status).toBe(412)
      expect(stale.body.error).toBe('precondition_failed')
      expect((await api('root', 'DELETE', '/acme', undefined, { 'if-match': etag })).status).toBe(412)
      // a new secret: sealed anew, still never returned
      const rotated = await api('root', 'PUT', '/acme', { ...acme, client_secret: `${SECRET}-2` })
      expect(rotated.status).toBe(200)
      expect(JSON.stringify(rotated.body)).not.toContain(SECRET)

      const gone = await api('root', 'DELETE', '/acme', undefined, { 'if-match': rotated.headers.get('etag')! })
      expect(gone.status, JSON.stringify(gone.body)).toBe(200)
      expect(gone.body).toEqual({ linksRemoved: 0 })
      expect((await api('root', 'GET', '/acme')).status).toBe(404)
      page = await signInPage(a)
      expect(page.html).not.toContain('data-provider="acme"') // this instance: at once

      await a.container.audit.flush()
      const events = (await a.container.queries.audit.list({ actor: 'client:root', limit: 1000 })).filter(
        (e) => e.target === 'acme',
      )
      expect(events.map((e) => e.action)).toEqual(
        expect.arrayContaining(['identity_provider.created', 'identity_provider.updated', 'identity_provider.deleted']),
      )
      expect(JSON.stringify(events)).not.toContain(SECRET)
      const update = events.find(
        (e) =>
          e.action === 'identity_provider.updated' &&
          (e.details as { after: { display_name: string } }).after.display_name === 'Acme Login',
      )!
      expect(update.details).toMatchObject({
        before: { display_name: 'Acme SSO' },
        after: { display_name: 'Acme Login' },
        client_authentication_changed: false,
      })
    })

    it('accepts the presets with only their credentials', async () => {
      const r = await api('root', 'POST', '', {
        alias: 'gh',
        preset: 'github',
        client_id: 'Iv1.abc',
        client_secret: 'gh-secret',
      })
      expect(r.status, JSON.stringify(r.body)).toBe(201)
      const page = await signInPage(a)
      expect(page.html).toContain('Sign in with GitHub')
      expect(
        (
          await api('root', 'POST', '', {
            alias: 'gh',
            preset: 'github',
            client_id: 'Iv1.abc',
            client_secret: 'gh-secret',
          })
        ).status,
      ).toBe(409)
      expect((await api('root', 'DELETE', '/gh')).status).toBe(200)
    })

    it('401 without a token; 403 for every role without idps:write (and idps:read); 404 for an unknown alias', async () => {
      await api('root', 'POST', '', {
        alias: 'guarded',
        issuer: 'https://idp.example.com',
        client_id: 'x',
        client_secret: 's',
      })
      expect((await api(undefined, 'GET', '')).status).toBe(401)
      expect((await api(undefined, 'POST', '', acme)).status).toBe(401)
      expect((await api('not-a-token', 'GET', '/guarded')).status).toBe(401)
      for (const who of ['um', 'cm', 'pe', 'hd', 'aud', 'nobody']) {
        for (const [method, path, body] of [
          ['POST', '', { ...acme, alias: `by-${who}` }],
          ['PUT', '/guarded', { issuer: 'https://idp.example.com', client_id: 'hijack' }],
          ['DELETE', '/guarded', undefined],
        ] as const) {
          const r = await api(who, method, path, body)
          expect(r.status, `${who} ${method} ${path}`).toBe(403)
          expect(r.body.error).toBe('forbidden')
        }
      }
      for (const who of ['um', 'cm', 'pe', 'hd', 'nobody'])
        expect((await api(who, 'GET', '/guarded')).status, who).toBe(403)
      expect((await api('aud', 'GET', '/guarded')).status).toBe(200)
      // a 403 reveals nothing about existence
      expect((await api('hd', 'GET', '/no-such')).status).toBe(403)
      expect((await api('root', 'GET', '/no-such')).status).toBe(404)
      expect(
        (
          await api('root', 'PUT', '/no-such', {
            issuer: 'https://idp.example.com',
            client_id: 'x',
            client_secret: 's',
          })
        ).status,
      ).toBe(404)
      expect((await api('root', 'DELETE', '/no-such')).status).toBe(404)
      expect((await api('root', 'GET', '/guarded')).body.config.client_id).toBe('x')
    })

    it('lists every bad field; hostile input is a 400, never a 500, and stores nothing', async () => {
      const fieldsOf = (r: { body: { details: { fields: { field: string }[] } } }) =>
        r.body.details.fields.map((f) => f.field).sort()
      const missing = await api('root', 'POST', '', { alias: 'half', client_id: 'x' })
      expect(missing.status).toBe(400)
      expect(missing.body.error).toBe('invalid_request')
      expect(fieldsOf(missing)).toEqual(['client_secret', 'issuer'])
      const several = await api('root', 'POST', '', {
        alias: 'Bad Alias',
        issuer: 'ftp://idp.example.com',
        client_id: '',
        scopes: ['a b'],
        surprise: 1,
      })
      expect(several.status).toBe(400)
      expect(fieldsOf(several)).toEqual(
        expect.arrayContaining(['alias', 'client_id', 'issuer', 'scopes.0', 'surprise']),
      )
      const entra = await api('root', 'POST', '', {
        alias: 'entra',
        preset: 'microsoft',
        tenant: 'common',
        client_id: 'x',
        client_secret: 's',
      })
      expect(entra.status).toBe(400)
      expect(fieldsOf(entra)).toContain('tenant')
      await api('root', 'POST', '', {
        alias: 'stay',
        issuer: 'https://idp.example.com',
        client_id: 'x',
        client_secret: 's',
      })
      const renamed = await api('root', 'PUT', '/stay', {
        alias: 'other',
        issuer: 'https://idp.example.com',
        client_id: 'x',
      })
      expect(renamed.status).toBe(400)
      expect(fieldsOf(renamed)).toEqual(['alias'])
      const hostile: unknown[] = [
        { alias: 'nul', issuer: 'https://idp.example.com', client_id: 'x\u0000y', client_secret: 's' },
        { alias: 'nul2', issuer: 'https://idp.example.com', client_id: 'x', client_secret: 's\u0000' },
        {
          alias: 'js',
          type: 'oauth2',
          authorization_endpoint: 'javascript:alert(1)',
          token_endpoint: 'https://t.example.com',
          userinfo_endpoint: 'https://u.example.com',
          client_id: 'x',
          client_secret: 's',
        },
        { alias: 'plain', issuer: 'http://evil.example.com', client_id: 'x', client_secret: 's' },
        { alias: 'huge', issuer: 'https://idp.example.com', client_id: 'x'.repeat(100_000), client_secret: 's' },
        {
          alias: 'html',
          display_name: '<b>x</b>\u0007y',
          issuer: 'https://idp.example.com',
          client_id: 'x',
          client_secret: 's',
        },
        {
          alias: 'jwk',
          issuer: 'https://idp.example.com',
          client_id: 'x',
          token_endpoint_auth_method: 'private_key_jwt',
          private_key_jwk: { kty: 'RSA' },
        },
        { alias: '__proto__', issuer: 'https://idp.example.com', client_id: 'x', client_secret: 's' },
        [{ alias: 'array' }],
        'not json at all',
        {
          alias: 'deep',
          issuer: 'https://idp.example.com',
          client_id: 'x',
          client_secret: 's',
          role_mappings: [{ value: 'v', roles: [{ nested: true }] }],
        },
      ]
      for (const body of hostile) {
        const r = await api('root', 'POST', '', body)
        expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400)
      }
      const aliases = (await a.container.db.identityProvider.findMany()).map((p) => p.alias)
      expect(
        aliases.filter((x) => ['nul', 'nul2', 'js', 'plain', 'huge', 'html', 'jwk', 'array', 'deep'].includes(x)),
      ).toEqual([])
      // a bad alias in the path is a 400, not a lookup
      expect((await api('root', 'GET', '/..%2F..%2Fetc')).status).toBe(400)
    })
  },
)

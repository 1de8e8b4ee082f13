import http from 'node:http'
import type net from 'node:net'
import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { pgTestUrl, redisTestUrl } from '../../src/db/testing.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn as signInAs, UserAgent } from '../helpers/user-agent.ts'
import { runCli } from '../helpers/cli.ts'

/**
 * RFC 9101 request objects (by value and by reference), the OIDC Core §5.5 `claims` parameter,
 * the address and phone scopes, and dynamic client registration (RFC 7591/7592) with initial
 * access tokens, with openid-client and jose as the relying party.
 */
const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'jar-secret-0123456789abcdef'
// resources a self-registered client gets tokens for, and the resource server that introspects them
const JWT_API = 'https://orders.example.com'
const OPAQUE_API = 'https://ledger.example.com'

const variants = [
  { name: 'SQLite', skip: false, kind: 'sqlite' as const, redis: undefined as string | undefined },
  {
    name: 'PostgreSQL + Redis',
    skip: !pgTestUrl() || !redisTestUrl(),
    kind: 'postgresql' as const,
    redis: redisTestUrl(),
  },
]

describe.each(variants)(
  'JAR, claims parameter, address/phone and dynamic registration on $name',
  ({ skip, kind, redis }) => {
    let server: TestServer
    let plain: TestServer
    let issuer: URL
    let rp: http.Server
    let rpUrl: string
    const objects = new Map<string, string>()
    let keys: jose.GenerateKeyPairResult
    let otherKeys: jose.GenerateKeyPairResult

    beforeAll(async () => {
      if (skip) return
      // the request_uri host: a tiny server of the relying party
      rp = http.createServer((req, res) => {
        const body = objects.get(req.url ?? '')
        res.writeHead(body ? 200 : 404, { 'content-type': 'application/oauth-authz-req+jwt' }).end(body ?? '')
      })
      await new Promise<void>((r) => rp.listen(0, '127.0.0.1', r))
      rpUrl = `http://127.0.0.1:${(rp.address() as net.AddressInfo).port}`
      keys = await jose.generateKeyPair('ES256', { extractable: true })
      otherKeys = await jose.generateKeyPair('ES256', { extractable: true })
      const jwk = { ...(await jose.exportJWK(keys.publicKey)), kid: 'rp-1', use: 'sig', alg: 'ES256' }
      server = await startTestServer({
        kind,
        redisUrl: redis,
        env: { DYNAMIC_REGISTRATION: 'initial-access-token', OUTBOUND_PRIVATE_ADDRESSES: 'true' },
      })
      issuer = new URL(server.url)
      const { doc, problems } = await validateDocument(server.container, {
        resources: [
          { indicator: JWT_API, scopes: ['orders:read'], access_token_format: 'jwt' },
          { indicator: OPAQUE_API, scopes: ['ledger:read'], access_token_format: 'opaque' },
        ],
        clients: [
          {
            client_id: 'rs',
            client_secret: SECRET,
            grant_types: ['client_credentials'],
            response_types: [],
            resource_servers: [JWT_API, OPAQUE_API],
          },
          {
            client_id: 'jar',
            client_secret: SECRET,
            redirect_uris: [CALLBACK],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            scope: 'openid email profile address phone',
            jwks: { keys: [jwk] },
            request_object_signing_alg: 'ES256',
            require_signed_request_object: true,
            request_uris: [`${rpUrl}/req.jwt`],
          },
          {
            client_id: 'narrow',
            client_secret: SECRET,
            redirect_uris: [CALLBACK],
            grant_types: ['authorization_code'],
            response_types: ['code'],
            scope: 'openid',
          },
        ],
        users: [
          {
            email: 'ann@example.com',
            password: PASSWORD,
            name: 'Ann',
            attributes: {
              address: { street_address: '1 Main St', locality: 'Springfield', country: 'US', bogus: 'x' },
              phone_number: '+15555550100',
              phone_number_verified: true,
            },
          },
        ],
      })
      expect(problems).toEqual([])
      await applyDocument(server.container, doc!)
      plain = await startTestServer({ kind, redisUrl: redis })
    })
    afterAll(async () => {
      await server?.close()
      await plain?.close()
      rp?.close()
    })

    const discover = () =>
      oidc.discovery(issuer, 'jar', SECRET, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] })
    const requestObject = async (
      params: Record<string, unknown>,
      key: jose.CryptoKey = keys.privateKey,
      alg = 'ES256',
    ) =>
      new jose.SignJWT({ client_id: 'jar', ...params })
        .setProtectedHeader({ alg, kid: 'rp-1', typ: 'oauth-authz-req+jwt' })
        .setIssuer('jar')
        .setAudience(server.url)
        .setIssuedAt()
        .setExpirationTime('5m')
        .setJti(crypto.randomUUID())
        .sign(key)
    async function pkce() {
      const verifier = oidc.randomPKCECodeVerifier()
      return {
        verifier,
        params: { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' },
      }
    }
    async function redeem(
      config: oidc.Configuration,
      url: URL,
      verifier: string,
      state: string,
      ua = new UserAgent(server.url),
    ) {
      const { callback } = await signInAs(ua, url, {
        email: 'ann@example.com',
        password: PASSWORD,
      })
      expect(callback?.searchParams.get('code'), String(callback)).toBeTruthy()
      return oidc.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: verifier, expectedState: state })
    }
    const base = { redirect_uri: CALLBACK, response_type: 'code', prompt: 'consent' }

    it.skipIf(skip)(
      'discovery advertises request objects, request_uri, claims, address/phone and the registration endpoint',
      async () => {
        const meta = (await discover()).serverMetadata()
        expect(meta.request_parameter_supported).toBe(true)
        expect(meta.request_uri_parameter_supported).toBe(true)
        expect(meta.require_request_uri_registration).toBe(true)
        expect(meta.claims_parameter_supported).toBe(true)
        expect(meta.scopes_supported).toEqual(expect.arrayContaining(['address', 'phone']))
        expect(meta.claims_supported).toEqual(
          expect.arrayContaining(['address', 'phone_number', 'phone_number_verified']),
        )
        expect(meta.request_object_signing_alg_values_supported).not.toContain('none')
        expect(meta.registration_endpoint).toBe(`${server.url}/reg`)
      },
    )

    it.skipIf(skip)(
      'a signed request object by value gives a code; the claims parameter puts email in the ID token; address/phone are mapped',
      async () => {
        const config = await discover()
        const { verifier, params } = await pkce()
        const state = oidc.randomState()
        const claims = { id_token: { email: { essential: true } } }
        const url = await oidc.buildAuthorizationUrlWithJAR(
          config,
          { ...base, ...params, state, scope: 'openid address phone', claims: JSON.stringify(claims) },
          { key: keys.privateKey, kid: 'rp-1' },
        )
        expect(url.searchParams.get('request')).toBeTruthy()
        const tokens = await redeem(config, url, verifier, state)
        const idToken = tokens.claims()!
        expect(idToken.email).toBe('ann@example.com') // asked by `claims` alone, not by scope
        const info = await oidc.fetchUserInfo(config, tokens.access_token, idToken.sub)
        expect(info.address).toEqual({ street_address: '1 Main St', locality: 'Springfield', country: 'US' })
        expect(info.phone_number).toBe('+15555550100')
        expect(info.phone_number_verified).toBe(true)
      },
    )

    it.skipIf(skip)('a signed request object by reference (a registered request_uri) gives a code', async () => {
      const config = await discover()
      const { verifier, params } = await pkce()
      const state = oidc.randomState()
      objects.set('/req.jwt', await requestObject({ ...base, ...params, state, scope: 'openid email' }))
      const url = new URL('/auth', server.url)
      url.search = new URLSearchParams({
        client_id: 'jar',
        request_uri: `${rpUrl}/req.jwt#v1`,
        response_type: 'code',
        scope: 'openid',
      }).toString()
      const tokens = await redeem(config, url, verifier, state)
      expect(tokens.claims()!.sub).toBeTruthy()
    })

    it.skipIf(skip)('refuses an unsigned, a badly signed, a missing and an unregistered request object', async () => {
      const ua = new UserAgent(server.url)
      const auth = (q: Record<string, string>) =>
        ua.request(
          new URL(
            `/auth?${new URLSearchParams({ client_id: 'jar', response_type: 'code', scope: 'openid', ...q })}`,
            server.url,
          ),
        )
      const errorOf = (res: Response) =>
        res.headers.get('location')
          ? new URL(res.headers.get('location')!).searchParams.get('error')
          : `status ${res.status}`
      const unsigned = new jose.UnsecuredJWT({ client_id: 'jar', ...base, scope: 'openid' })
        .setIssuer('jar')
        .setAudience(server.url)
        .encode()
      expect(errorOf(await auth({ request: unsigned, redirect_uri: CALLBACK }))).toMatch(
        /invalid_request_object|status 400/,
      )
      const forged = await requestObject({ ...base, scope: 'openid' }, otherKeys.privateKey)
      expect(errorOf(await auth({ request: forged, redirect_uri: CALLBACK }))).toMatch(
        /invalid_request_object|status 400/,
      )
      // require_signed_request_object: plain parameters are refused
      expect(errorOf(await auth({ redirect_uri: CALLBACK }))).toMatch(/invalid_request|status 400/)
      const unregistered = await auth({ request_uri: `${rpUrl}/other.jwt` })
      expect(unregistered.status).toBe(400)
      expect(await unregistered.text()).toContain('registered request_uris')
      objects.set('/req.jwt', 'not a jwt')
      expect((await auth({ request_uri: `${rpUrl}/req.jwt` })).status).toBe(400)
    })

    it.skipIf(skip)('the claims parameter cannot reach beyond the client scope', async () => {
      const ua = new UserAgent(server.url)
      const res = await ua.request(
        new URL(
          `/auth?${new URLSearchParams({ client_id: 'narrow', ...base, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', claims: JSON.stringify({ userinfo: { phone_number: null } }) })}`,
          server.url,
        ),
      )
      const location = new URL(res.headers.get('location')!)
      expect(location.searchParams.get('error')).toBe('invalid_request')
      expect(location.searchParams.get('error_description')).toContain('phone_number')
    })

    it.skipIf(skip)('DYNAMIC_REGISTRATION off (the default): no endpoint, nothing in discovery', async () => {
      const meta = (await (await fetch(`${plain.url}/.well-known/openid-configuration`)).json()) as Record<
        string,
        unknown
      >
      expect(meta.registration_endpoint).toBeUndefined()
      const res = await fetch(`${plain.url}/reg`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ redirect_uris: [CALLBACK] }),
      })
      expect(res.status).toBe(404)
    })

    it.skipIf(skip)(
      'registration with an initial access token; without or with a wrong one 401; management scopes refused; RFC 7592 management',
      async () => {
        const reg = (body: unknown, token?: string) =>
          fetch(`${server.url}/reg`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify(body),
          })
        const meta = { redirect_uris: [CALLBACK], client_name: 'Self-made', scope: 'openid email' }
        expect((await reg(meta)).status).toBe(401)
        expect((await reg(meta, 'not-a-token')).status).toBe(401)
        // the operator's way: `portcullis admin create-iat` on the host (needs the mode turned on)
        const cliEnv = {
          DATABASE_URL: server.config.DATABASE_URL,
          PORTCULLIS_MASTER_KEY: server.config.PORTCULLIS_MASTER_KEY!,
          DATA_DIR: server.config.DATA_DIR,
          LOG_LEVEL: 'silent',
        }
        const refused = await runCli(['admin', 'create-iat'], cliEnv)
        expect(refused.code).not.toBe(0)
        expect(refused.stderr).toContain('DYNAMIC_REGISTRATION=initial-access-token')
        const issued = await runCli(['admin', 'create-iat'], {
          ...cliEnv,
          DYNAMIC_REGISTRATION: 'initial-access-token',
        })
        expect(issued.code, issued.stderr).toBe(0)
        const token = issued.stdout.trim().split('\n').at(-1)!.trim()
        expect(token.length).toBeGreaterThan(20)
        // wrong authority: a self-registered client never gets management scopes or admin-only settings
        for (const hostile of [
          { ...meta, scope: 'openid admin' },
          { ...meta, scope: 'openid authz:check' },
          { ...meta, skip_consent: true },
          { ...meta, resource_servers: ['https://api.example.com'] },
          { ...meta, grant_types: ['client_credentials'] },
        ]) {
          const res = await reg(hostile, token)
          expect(res.status, JSON.stringify(hostile)).toBe(400)
          expect(((await res.json()) as { error: string }).error).toBe('invalid_client_metadata')
        }
        expect((await reg({ ...meta, client_name: 'a\u0000b' }, token)).status).toBe(400)

        const res = await reg(meta, token)
        expect(res.status).toBe(201)
        const created = (await res.json()) as Record<string, string>
        expect(created.client_secret).toBeTruthy()
        expect(created.registration_access_token).toBeTruthy()
        const row = await server.container.queries.clients.find(created.client_id!)
        expect(row?.secretHash).toMatch(/^\$argon2id\$/) // stored hashed, like imported clients

        // the registered client works as a relying party, with PKCE and its exact auth method
        const config = await oidc.discovery(
          issuer,
          created.client_id!,
          created.client_secret,
          oidc.ClientSecretBasic(created.client_secret!),
          { execute: [oidc.allowInsecureRequests] },
        )
        const { verifier, params } = await pkce()
        const state = oidc.randomState()
        const tokens = await redeem(
          config,
          oidc.buildAuthorizationUrl(config, { ...base, ...params, state, scope: 'openid email' }),
          verifier,
          state,
        )
        expect((await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).email).toBe(
          'ann@example.com',
        )
        const ua = new UserAgent(server.url)
        const noPkce = await ua.request(
          new URL(
            `/auth?${new URLSearchParams({ client_id: created.client_id!, ...base, scope: 'openid' })}`,
            server.url,
          ),
        )
        expect(new URL(noPkce.headers.get('location')!).searchParams.get('error')).toBe('invalid_request')

        // RFC 7592: read, update, delete with the registration access token
        const manage = (method: string, rat: string, body?: unknown) =>
          fetch(created.registration_client_uri!, {
            method,
            headers: { authorization: `Bearer ${rat}`, ...(body ? { 'content-type': 'application/json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          })
        expect((await manage('GET', 'wrong')).status).toBe(401)
        const read = await manage('GET', created.registration_access_token!)
        expect(read.status).toBe(200)
        const readBody = (await read.json()) as Record<string, unknown>
        expect(readBody.client_name).toBe('Self-made')
        expect(String(readBody.client_secret ?? '')).not.toMatch(/argon2/)
        const hostileUpdate = await manage('PUT', created.registration_access_token!, {
          client_id: created.client_id,
          redirect_uris: [CALLBACK],
          scope: 'openid admin',
        })
        expect(hostileUpdate.status).toBe(400)
        const update = await manage('PUT', created.registration_access_token!, {
          client_id: created.client_id,
          redirect_uris: [CALLBACK],
          client_name: 'Renamed',
          scope: 'openid',
        })
        expect(update.status).toBe(200)
        const updated = (await update.json()) as Record<string, string>
        expect(updated.client_name).toBe('Renamed')
        const rat = updated.registration_access_token ?? created.registration_access_token!
        expect((await server.container.queries.clients.find(created.client_id!))?.metadata.client_name).toBe('Renamed')
        expect((await manage('DELETE', rat)).status).toBe(204)
        expect(await server.container.queries.clients.find(created.client_id!)).toBeNull()
      },
      // two CLI runs (each a process start) on a busy 2-core machine
      240_000,
    )

    it.skipIf(skip)(
      'RFC 7592 §2.3: a client that deletes itself takes its grants, refresh and access tokens (opaque and JWT) with it',
      async () => {
        const { token: iat } = await server.container.createInitialAccessToken('test')
        const res = await fetch(`${server.url}/reg`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${iat}` },
          body: JSON.stringify({
            redirect_uris: [CALLBACK],
            client_name: 'Short-lived',
            scope: 'openid email offline_access',
            grant_types: ['authorization_code', 'refresh_token'],
            response_types: ['code'],
          }),
        })
        expect(res.status).toBe(201)
        const created = (await res.json()) as Record<string, string>
        const clientId = created.client_id!
        const config = await oidc.discovery(
          issuer,
          clientId,
          created.client_secret,
          oidc.ClientSecretBasic(created.client_secret!),
          { execute: [oidc.allowInsecureRequests] },
        )
        const tokensFor = async (resource: string, ua?: UserAgent) => {
          const { verifier, params } = await pkce()
          const state = oidc.randomState()
          const url = oidc.buildAuthorizationUrl(config, {
            ...base,
            ...params,
            state,
            resource,
            scope: 'openid email offline_access',
          })
          return redeem(config, url, verifier, state, ua)
        }
        // an opaque access token and a refresh token for one resource, a JWT for another
        const browser = new UserAgent(server.url)
        const opaque = await tokensFor(OPAQUE_API, browser)
        // the user's sign-in session knows the client (its sid and grant there)
        const session = async () => {
          const found = await server.container.provider().Session.find(browser.cookie('_session')!)
          expect(found).toBeTruthy()
          return found!.authorizations ?? {}
        }
        expect(Object.keys(await session())).toContain(clientId)
        const jwt = await tokensFor(JWT_API)
        expect(opaque.refresh_token).toBeTruthy()
        expect(opaque.access_token.split('.')).toHaveLength(1)
        expect(jose.decodeProtectedHeader(jwt.access_token).typ).toBe('at+jwt')
        const rs = await oidc.discovery(issuer, 'rs', SECRET, oidc.ClientSecretBasic(SECRET), {
          execute: [oidc.allowInsecureRequests],
        })
        const active = async (token: string) => (await oidc.tokenIntrospection(rs, token)).active
        expect(await active(opaque.access_token)).toBe(true)
        expect(await active(jwt.access_token)).toBe(true)

        const removed = await fetch(created.registration_client_uri!, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${created.registration_access_token}` },
        })
        expect(removed.status).toBe(204)

        const refresh = await fetch(config.serverMetadata().token_endpoint!, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${btoa(`${clientId}:${created.client_secret}`)}`,
          },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: opaque.refresh_token! }),
        })
        expect([400, 401]).toContain(refresh.status)
        expect(((await refresh.json()) as { error: string }).error).toMatch(/^invalid_(grant|client)$/)
        expect(await active(opaque.access_token)).toBe(false)
        expect(await active(jwt.access_token)).toBe(false)
        // the session stays (the user is still signed in), without the client
        expect(Object.keys(await session())).not.toContain(clientId)
        // gone from storage, not merely unusable while no client answers to the id
        const stored = server.container.queries.payloads
        expect(await stored.find('RefreshToken', opaque.refresh_token!)).toBeNull()
        expect(await stored.find('AccessToken', opaque.access_token)).toBeNull()
        // the registration access token went with the client (RFC 7592 §2.3 MUST)
        const read = await fetch(created.registration_client_uri!, {
          headers: { authorization: `Bearer ${created.registration_access_token}` },
        })
        expect(read.status).toBe(401)
        const records = await server.container.audit.list({ action: 'client.deleted' })
        const record = records.find((e) => e.target === clientId)
        expect(record, JSON.stringify(records)).toBeTruthy()
        expect(JSON.stringify(record!.details)).toContain('"grants_revoked":2')
      },
      240_000,
    )
  },
)

import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { TOKEN_EXCHANGE_GRANT } from '../../src/oidc/apikey-exchange.ts'
import { oauthError } from '../helpers/oauth-errors.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn, UserAgent } from '../helpers/user-agent.ts'

/**
 * RFC 8693 token exchange of a user's access token, with real parties: openid-client signs the
 * user in to a gateway's web client, the gateway service exchanges the user's token for a
 * narrower one for the billing API (delegation, `act`), and jose verifies the result against
 * our JWKS. The policy store `token-exchange` decides who may delegate or impersonate for which
 * audience; everything beyond it, and every bad token, is refused and audited.
 */
const CALLBACK = 'https://app.example.com/cb'
const GATEWAY = 'https://gateway.example.com'
const BILLING = 'https://billing.example.com'
const REPORTS = 'https://reports.example.com'
const LEDGER = 'https://ledger.example.com'
const PASSWORD = 'quiet river lamp orbit'
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token'

let server: TestServer
let jwks: ReturnType<typeof jose.createRemoteJWKSet>
let userId: string
let userToken: string
let web: oidc.Configuration
let gateway: oidc.Configuration
let gatewayOwn: string

const discover = (id: string, secret = `${id}-secret-0123456789abcdef`) =>
  oidc.discovery(new URL(server.url), id, secret, oidc.ClientSecretBasic(secret), {
    execute: [oidc.allowInsecureRequests],
  })
const exchange = (config: oidc.Configuration, params: Record<string, string>) =>
  oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, {
    subject_token: userToken,
    subject_token_type: ACCESS,
    ...params,
  })
const verify = (token: string, audience: string) =>
  jose.jwtVerify(token, jwks, { issuer: server.url, audience, typ: 'at+jwt' }).then((r) => r.payload)

describeOnBackends('token-exchange.test.ts', 'Token exchange', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    server = await startTestServer({ kind, redisUrl })
    jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
    const staff = (name: string) => ({ name, roles: ['staff'] })
    const { doc, problems } = await validateDocument(server.container, {
      resources: [
        {
          indicator: GATEWAY,
          scopes: [staff('orders:read'), staff('billing:read'), staff('billing:write')],
          access_token_format: 'jwt',
        },
        {
          indicator: BILLING,
          scopes: [staff('billing:read'), { name: 'billing:write', roles: ['finance'] }],
          access_token_format: 'jwt',
        },
        { indicator: REPORTS, scopes: [staff('billing:read')], access_token_format: 'jwt' },
        { indicator: LEDGER, scopes: [staff('billing:read')], access_token_format: 'opaque' },
      ],
      clients: [
        {
          client_id: 'web',
          client_secret: 'web-secret-0123456789abcdef',
          redirect_uris: [CALLBACK],
          grant_types: ['authorization_code'],
          response_types: ['code'],
          scope: 'openid orders:read billing:read billing:write',
          skip_consent: true,
        },
        {
          client_id: 'gateway-svc',
          client_secret: 'gateway-svc-secret-0123456789abcdef',
          grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT],
          response_types: [],
          resource_servers: [GATEWAY],
          scope: 'orders:read billing:read billing:write',
        },
        {
          client_id: 'stranger',
          client_secret: 'stranger-secret-0123456789abcdef',
          grant_types: ['client_credentials', TOKEN_EXCHANGE_GRANT],
          response_types: [],
          scope: 'billing:read orders:read',
        },
      ],
      users: [{ email: 'cal@example.com', password: PASSWORD, name: 'Cal', roles: ['staff'] }],
      policy_stores: [
        {
          name: 'token-exchange',
          model: 'acl.conf',
          policy: `p, client:gateway-svc, ${BILLING}, delegate\np, client:gateway-svc, ${REPORTS}, impersonate\np, client:gateway-svc, ${LEDGER}, delegate\n`,
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    userId = (await server.container.users.findByEmail('cal@example.com'))!.id

    web = await discover('web')
    const verifier = oidc.randomPKCECodeVerifier()
    const url = oidc.buildAuthorizationUrl(web, {
      redirect_uri: CALLBACK,
      scope: 'openid orders:read billing:read',
      resource: GATEWAY,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })
    const { callback } = await signIn(new UserAgent(server.url), url, { email: 'cal@example.com', password: PASSWORD })
    userToken = (
      await oidc.authorizationCodeGrant(web, callback!, { pkceCodeVerifier: verifier }, { resource: GATEWAY })
    ).access_token
    gateway = await discover('gateway-svc')
    gatewayOwn = (await oidc.clientCredentialsGrant(gateway, { resource: GATEWAY, scope: 'orders:read' })).access_token
  })
  afterAll(async () => {
    await server?.close()
  })

  describe("token exchange (RFC 8693) of a user's access token", () => {
    it('is advertised: the grant type is in discovery', async () => {
      const meta = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as {
        grant_types_supported: string[]
      }
      expect(meta.grant_types_supported).toContain(TOKEN_EXCHANGE_GRANT)
    })

    it('delegation: a narrower token for the billing API that names the acting service, audited', async () => {
      const presented = await verify(userToken, GATEWAY)
      expect(String(presented.scope).split(' ').sort()).toEqual(['billing:read', 'orders:read'])
      const r = await exchange(gateway, { resource: BILLING, actor_token: gatewayOwn, actor_token_type: ACCESS })
      expect(r.issued_token_type).toBe(ACCESS)
      expect(r.scope).toBe('billing:read')
      const claims = await verify(r.access_token, BILLING)
      expect(claims).toMatchObject({
        sub: userId,
        client_id: 'gateway-svc',
        scope: 'billing:read',
        act: { sub: 'gateway-svc' },
      })
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(300)
      const entry = (await server.container.audit.list({ action: 'token.exchanged' })).find(
        (e) => e.outcome === 'success',
      )
      expect(entry).toMatchObject({ actor: 'gateway-svc', target: userId })
      expect(entry!.details).toMatchObject({
        mode: 'delegate',
        audience: BILLING,
        scope: 'billing:read',
        act: { sub: 'gateway-svc' },
      })
    })

    it('a delegated token exchanged again nests the earlier actor (§4.1)', async () => {
      // the billing token names gateway-svc as its client, so gateway-svc may present it
      const first = await exchange(gateway, { resource: BILLING, actor_token: gatewayOwn, actor_token_type: ACCESS })
      const again = await oidc.genericGrantRequest(gateway, TOKEN_EXCHANGE_GRANT, {
        subject_token: first.access_token,
        subject_token_type: ACCESS,
        resource: BILLING,
        actor_token: gatewayOwn,
        actor_token_type: ACCESS,
      })
      expect((await verify(again.access_token, BILLING)).act).toEqual({
        sub: 'gateway-svc',
        act: { sub: 'gateway-svc' },
      })
    })

    it('impersonation only where the policy allows it, and then without act', async () => {
      const reports = await exchange(gateway, { audience: REPORTS })
      const claims = await verify(reports.access_token, REPORTS)
      expect(claims.sub).toBe(userId)
      expect(claims.act).toBeUndefined()
      // the policy lets gateway-svc delegate to billing, not impersonate there
      expect(await oauthError(exchange(gateway, { resource: BILLING }))).toMatchObject({
        status: 400,
        error: 'invalid_target',
      })
      const refused = (await server.container.audit.list({ action: 'token.exchanged' })).find(
        (e) => e.outcome === 'failure',
      )
      expect(JSON.stringify(refused!.details)).toMatch(/does not let gateway-svc impersonate/)
    })

    it('refuses exchanges beyond the policy or the token: another audience, more scope, an opaque API', async () => {
      expect(
        await oauthError(exchange(gateway, { resource: REPORTS, actor_token: gatewayOwn, actor_token_type: ACCESS })),
      ).toMatchObject({ error: 'invalid_target' })
      expect(
        await oauthError(
          exchange(gateway, {
            resource: 'https://unknown.example.com',
            actor_token: gatewayOwn,
            actor_token_type: ACCESS,
          }),
        ),
      ).toMatchObject({ error: 'invalid_target' })
      // billing:write is not in the user's token (nor held by the user at billing)
      expect(
        await oauthError(
          exchange(gateway, {
            resource: BILLING,
            scope: 'billing:write',
            actor_token: gatewayOwn,
            actor_token_type: ACCESS,
          }),
        ),
      ).toMatchObject({ error: 'invalid_scope' })
      expect(
        await oauthError(exchange(gateway, { resource: LEDGER, actor_token: gatewayOwn, actor_token_type: ACCESS })),
      ).toMatchObject({ error: 'invalid_target' })
      expect(await oauthError(exchange(gateway, { actor_token: gatewayOwn, actor_token_type: ACCESS }))).toMatchObject({
        error: 'invalid_target',
      })
    })

    it('refuses callers who may not: a service that did not receive the token, a wrong secret, a public client', async () => {
      const stranger = await discover('stranger')
      expect(await oauthError(exchange(stranger, { resource: BILLING }))).toMatchObject({ error: 'invalid_grant' })
      expect(
        await oauthError(
          exchange(await discover('gateway-svc', 'wrong-secret-0123456789abcdef'), { resource: BILLING }),
        ),
      ).toMatchObject({ status: 401, error: 'invalid_client' })
      const res = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          client_id: 'apikey-exchange',
          subject_token: userToken,
          subject_token_type: ACCESS,
          resource: BILLING,
        }),
      })
      expect(res.status).toBe(400)
      expect(((await res.json()) as { error: string }).error).toBe('unauthorized_client')
      // an actor token of another client
      const strangerOwn = (await oidc.clientCredentialsGrant(stranger, { scope: 'billing:read', resource: BILLING }))
        .access_token
      expect(
        await oauthError(exchange(gateway, { resource: BILLING, actor_token: strangerOwn, actor_token_type: ACCESS })),
      ).toMatchObject({ error: 'invalid_grant' })
    })

    it('refuses a sender-constrained (DPoP) user token: the binding would be lost', async () => {
      const verifier = oidc.randomPKCECodeVerifier()
      const url = oidc.buildAuthorizationUrl(web, {
        redirect_uri: CALLBACK,
        scope: 'openid billing:read',
        resource: GATEWAY,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      })
      const { callback } = await signIn(new UserAgent(server.url), url, {
        email: 'cal@example.com',
        password: PASSWORD,
      })
      const DPoP = oidc.getDPoPHandle(web, await oidc.randomDPoPKeyPair('ES256'))
      const bound = (
        await oidc.authorizationCodeGrant(
          web,
          callback!,
          { pkceCodeVerifier: verifier },
          { resource: GATEWAY },
          { DPoP },
        )
      ).access_token
      expect((await verify(bound, GATEWAY)).cnf).toBeDefined()
      const err = await exchange(gateway, {
        subject_token: bound,
        resource: BILLING,
        actor_token: gatewayOwn,
        actor_token_type: ACCESS,
      }).catch((e: oidc.ResponseBodyError) => e)
      expect(err).toMatchObject({
        error: 'invalid_grant',
        error_description: expect.stringMatching(/sender-constrained/),
      })
    })

    it("refuses bad subject tokens: garbage, forged, a client's own, revoked", async () => {
      for (const subject_token of ['garbage', 'a.b.c', gatewayOwn]) {
        expect(
          await oauthError(
            exchange(gateway, { subject_token, resource: BILLING, actor_token: gatewayOwn, actor_token_type: ACCESS }),
          ),
          subject_token.slice(0, 10),
        ).toMatchObject({ error: 'invalid_grant' })
      }
      const { privateKey } = await jose.generateKeyPair('ES256')
      const forged = await new jose.SignJWT({ client_id: 'web', scope: 'billing:read', jti: 'x' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
        .setIssuer(server.url)
        .setAudience(GATEWAY)
        .setSubject(userId)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
      expect(
        await oauthError(
          exchange(gateway, {
            subject_token: forged,
            resource: BILLING,
            actor_token: gatewayOwn,
            actor_token_type: ACCESS,
          }),
        ),
      ).toMatchObject({ error: 'invalid_grant' })
      expect(
        await oauthError(exchange(gateway, { subject_token_type: 'urn:example:saml', resource: BILLING })),
      ).toMatchObject({ error: 'invalid_request' })
      await oidc.tokenRevocation(web, userToken)
      expect(
        await oauthError(exchange(gateway, { resource: BILLING, actor_token: gatewayOwn, actor_token_type: ACCESS })),
      ).toMatchObject({ error: 'invalid_grant' })
    })
  })
})

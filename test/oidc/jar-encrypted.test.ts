import http from 'node:http'
import type net from 'node:net'
import * as jose from 'jose'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { describeOnBackends } from '../helpers/backends.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { signIn as signInAs, UserAgent } from '../helpers/user-agent.ts'

/**
 * JWE with jose as the client: RFC 9101 §6.1 encrypted request objects (nested: signed by the
 * client, then encrypted to our `use: enc` key from /jwks), by value and by reference, and
 * OIDC Core §10.2 encrypted ID tokens (encrypted to the client's key).
 */
const CALLBACK = 'https://app.example.com/cb'
const PASSWORD = 'quiet river lamp orbit'
const SECRET = 'jwe-secret-0123456789abcdef'

describeOnBackends('jar-encrypted.test.ts', 'Encrypted request objects and ID tokens', ({ kind, redisUrl }) => {
  let server: TestServer
  let rp: http.Server
  let rpUrl: string
  const objects = new Map<string, string>()
  let signing: jose.GenerateKeyPairResult
  let clientEnc: jose.GenerateKeyPairResult
  let ourEncKey: jose.JWK

  beforeAll(async () => {
    rp = http.createServer((req, res) => {
      const body = objects.get(req.url ?? '')
      res.writeHead(body ? 200 : 404, { 'content-type': 'application/oauth-authz-req+jwt' }).end(body ?? '')
    })
    await new Promise<void>((r) => rp.listen(0, '127.0.0.1', r))
    rpUrl = `http://127.0.0.1:${(rp.address() as net.AddressInfo).port}`
    signing = await jose.generateKeyPair('ES256', { extractable: true })
    clientEnc = await jose.generateKeyPair('ECDH-ES', { extractable: true })
    const sigJwk = { ...(await jose.exportJWK(signing.publicKey)), kid: 'rp-sig', use: 'sig', alg: 'ES256' }
    const encJwk = { ...(await jose.exportJWK(clientEnc.publicKey)), kid: 'rp-enc', use: 'enc', alg: 'ECDH-ES' }
    server = await startTestServer({ kind, redisUrl, env: { OUTBOUND_PRIVATE_ADDRESSES: 'true' } })
    const app = {
      client_secret: SECRET,
      redirect_uris: [CALLBACK],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid email',
    }
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'jwe',
          ...app,
          jwks: { keys: [sigJwk] },
          request_object_signing_alg: 'ES256',
          request_object_encryption_alg: 'RSA-OAEP-256',
          request_object_encryption_enc: 'A256GCM',
          request_uris: [`${rpUrl}/req.jwe`],
        },
        {
          client_id: 'secret-id',
          ...app,
          jwks: { keys: [encJwk] },
          id_token_encrypted_response_alg: 'ECDH-ES',
          id_token_encrypted_response_enc: 'A256GCM',
        },
      ],
      users: [{ email: 'ann@example.com', password: PASSWORD, name: 'Ann' }],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: jose.JWK[] }
    ourEncKey = jwks.keys.find((k) => k.use === 'enc')!
  })
  afterAll(async () => {
    await server?.close()
    rp?.close()
  })

  const signed = (params: Record<string, unknown>) =>
    new jose.SignJWT({ client_id: 'jwe', ...params })
      .setProtectedHeader({ alg: 'ES256', kid: 'rp-sig', typ: 'oauth-authz-req+jwt' })
      .setIssuer('jwe')
      .setAudience(server.url)
      .setIssuedAt()
      .setExpirationTime('5m')
      .setJti(crypto.randomUUID())
      .sign(signing.privateKey)
  /** RFC 9101 §6.1 / RFC 7519 §5.2: the signed object, encrypted; `cty: JWT` marks the nesting. */
  const encrypted = async (jws: string, to: jose.JWK = ourEncKey) =>
    new jose.CompactEncrypt(new TextEncoder().encode(jws))
      .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM', cty: 'JWT', ...(to.kid ? { kid: to.kid } : {}) })
      .encrypt(await jose.importJWK(to, 'RSA-OAEP-256'))
  async function pkce() {
    const verifier = oidc.randomPKCECodeVerifier()
    return {
      verifier,
      params: { code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' },
    }
  }
  const base = { redirect_uri: CALLBACK, response_type: 'code', prompt: 'consent', scope: 'openid email' }
  const authUrl = (q: Record<string, string>) =>
    new URL(
      `/auth?${new URLSearchParams({ client_id: 'jwe', response_type: 'code', scope: 'openid', ...q })}`,
      server.url,
    )
  async function codeFor(url: URL) {
    const { callback } = await signInAs(new UserAgent(server.url), url, {
      email: 'ann@example.com',
      password: PASSWORD,
    })
    expect(callback?.searchParams.get('code'), String(callback)).toBeTruthy()
    return callback!
  }
  const discover = (clientId: string) =>
    oidc.discovery(new URL(server.url), clientId, SECRET, oidc.ClientSecretBasic(SECRET), {
      execute: [oidc.allowInsecureRequests],
    })

  it('discovery and /jwks advertise the encryption key and algorithms', async () => {
    expect(ourEncKey).toMatchObject({ kty: 'RSA', use: 'enc', alg: 'RSA-OAEP-256' })
    expect(ourEncKey.d).toBeUndefined()
    const meta = (await discover('jwe')).serverMetadata()
    expect(meta.request_object_encryption_alg_values_supported).toEqual(['RSA-OAEP-256'])
    expect(meta.request_object_encryption_enc_values_supported).toContain('A256GCM')
    expect(meta.id_token_encryption_alg_values_supported).toEqual(expect.arrayContaining(['RSA-OAEP-256', 'ECDH-ES']))
    // symmetric JWE would need the client secret as a key; we keep only its hash
    for (const alg of ['dir', 'A128KW', 'A256KW']) {
      expect(meta.request_object_encryption_alg_values_supported).not.toContain(alg)
      expect(meta.id_token_encryption_alg_values_supported).not.toContain(alg)
    }
    expect(meta.userinfo_encryption_alg_values_supported).toBeUndefined()
  })

  it('an encrypted request object by value gives a code and tokens', async () => {
    const config = await discover('jwe')
    const { verifier, params } = await pkce()
    const state = oidc.randomState()
    const request = await encrypted(await signed({ ...base, ...params, state }))
    expect(request.split('.')).toHaveLength(5)
    const callback = await codeFor(authUrl({ request }))
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    expect(tokens.claims()!.sub).toBeTruthy()
    // the parameters inside the object counted: `email` reached userinfo (OIDC Core §5.4)
    const info = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
    expect(info.email).toBe('ann@example.com')
  })

  it('an encrypted request object by reference (a registered request_uri) gives a code', async () => {
    const config = await discover('jwe')
    const { verifier, params } = await pkce()
    const state = oidc.randomState()
    objects.set('/req.jwe', await encrypted(await signed({ ...base, ...params, state })))
    const callback = await codeFor(authUrl({ request_uri: `${rpUrl}/req.jwe` }))
    const tokens = await oidc.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: verifier,
      expectedState: state,
    })
    expect(tokens.claims()!.sub).toBeTruthy()
  })

  it('refuses an object encrypted to another key, and an encrypted but unsigned one', async () => {
    const ua = new UserAgent(server.url)
    const errorOf = async (res: Response) =>
      res.headers.get('location')
        ? new URL(res.headers.get('location')!).searchParams.get('error')
        : `status ${res.status} ${await res.text()}`
    const { params } = await pkce()
    const stranger = await jose.generateKeyPair('RSA-OAEP-256', { extractable: true })
    const strangerJwk = { ...(await jose.exportJWK(stranger.publicKey)), kid: ourEncKey.kid }
    const wrongKey = await encrypted(await signed({ ...base, ...params }), strangerJwk)
    expect(await errorOf(await ua.request(authUrl({ request: wrongKey, redirect_uri: CALLBACK })))).toMatch(
      /invalid_request_object|status 400/,
    )
    const unsigned = new jose.UnsecuredJWT({ client_id: 'jwe', ...base, ...params })
      .setIssuer('jwe')
      .setAudience(server.url)
      .encode()
    const unsignedInside = await encrypted(unsigned)
    expect(await errorOf(await ua.request(authUrl({ request: unsignedInside, redirect_uri: CALLBACK })))).toMatch(
      /invalid_request_object|status 400/,
    )
    objects.set('/req.jwe', wrongKey)
    expect(await errorOf(await ua.request(authUrl({ request_uri: `${rpUrl}/req.jwe` })))).toMatch(
      /invalid_request_object|status 400/,
    )
  })

  it('a client with id_token_encrypted_response_alg gets its ID token encrypted to its key, signed inside', async () => {
    const verifier = oidc.randomPKCECodeVerifier()
    const url = new URL('/auth', server.url)
    url.search = new URLSearchParams({
      client_id: 'secret-id',
      ...base,
      state: 's1',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    }).toString()
    const callback = await codeFor(url)
    const res = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`secret-id:${SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: callback.searchParams.get('code')!,
        redirect_uri: CALLBACK,
        code_verifier: verifier,
      }),
    })
    expect(res.status).toBe(200)
    const { id_token } = (await res.json()) as { id_token: string }
    expect(id_token.split('.')).toHaveLength(5)
    const { plaintext, protectedHeader } = await jose.compactDecrypt(id_token, clientEnc.privateKey)
    expect(protectedHeader).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: 'rp-enc' })
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
    const { payload } = await jose.jwtVerify(new TextDecoder().decode(plaintext), jwks, {
      issuer: server.url,
      audience: 'secret-id',
    })
    expect(payload.sub).toBeTruthy()
    expect(payload.aud).toBe('secret-id')
  })

  it('after a key rotation the previous encryption key still decrypts (a client may have cached our JWKS)', async () => {
    const previous = ourEncKey
    await server.container.keys.rotate(3600)
    await server.container.refresh()
    const jwks = (await (await fetch(`${server.url}/jwks`)).json()) as { keys: jose.JWK[] }
    const enc = jwks.keys.filter((k) => k.use === 'enc')
    expect(enc).toHaveLength(2)
    expect(enc.map((k) => k.kid)).toContain(previous.kid)
    const config = await discover('jwe')
    for (const to of [previous, enc.find((k) => k.kid !== previous.kid)!]) {
      const { verifier, params } = await pkce()
      const state = oidc.randomState()
      const callback = await codeFor(
        authUrl({ request: await encrypted(await signed({ ...base, ...params, state }), to) }),
      )
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: verifier,
        expectedState: state,
      })
      expect(tokens.claims()!.sub).toBeTruthy()
    }
  })
})

import * as jose from 'jose'
import { describe, expect, it } from 'vitest'
import { apiTokenVerifier } from '../../../src/oidc/api-tokens.ts'

const issuer = 'https://id.example.com'
const audience = `${issuer}/api`

async function signer(kid: string) {
  const { privateKey, publicKey } = await jose.generateKeyPair('ES256')
  const jwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' }
  const sign = (claims: Record<string, unknown>, exp: string | number = '5m') =>
    new jose.SignJWT({ client_id: 'pep', scope: 'authz:check openid', ...claims })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject('pep')
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(privateKey)
  return { jwk, sign }
}

describe('API access token verifier', () => {
  it('accepts a valid RFC 9068 token, keeping only API scopes', async () => {
    const k = await signer('k1')
    const v = apiTokenVerifier({ issuer, audience })
    v.setKeys([k.jwk])
    const claims = await v.verify(await k.sign({ authz_stores: ['orders'] }))
    expect(claims).toMatchObject({ clientId: 'pep', scopes: ['authz:check'], stores: ['orders'] })
  })

  it('refuses a wrong audience, a wrong typ, a foreign key and a DPoP-bound token', async () => {
    const k = await signer('k1')
    const stranger = await signer('k1')
    const v = apiTokenVerifier({ issuer, audience })
    v.setKeys([k.jwk])
    expect(await v.verify(await stranger.sign({}))).toBeUndefined()
    expect(await v.verify(await k.sign({ cnf: { jkt: 'x' } }))).toBeUndefined()
    const wrongAud = await new jose.SignJWT({ client_id: 'pep' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new Uint8Array(32))
    expect(await v.verify(wrongAud)).toBeUndefined()
    expect(await v.verify('not.a.jwt')).toBeUndefined()
  })

  it('refuses a revoked token (RFC 7009) even after it was verified and cached', async () => {
    const k = await signer('k1')
    const revoked = new Set<string>()
    const v = apiTokenVerifier({ issuer, audience, isRevoked: (jti) => revoked.has(jti) })
    v.setKeys([k.jwk])
    const token = await k.sign({ jti: 'jti-1' })
    const other = await k.sign({ jti: 'jti-2' })
    expect(await v.verify(token)).toMatchObject({ clientId: 'pep', jti: 'jti-1' })
    revoked.add('jti-1')
    expect(await v.verify(token)).toBeUndefined()
    expect(await v.verify(other)).toMatchObject({ jti: 'jti-2' })
  })

  it('remembers a verified token until its exp, and forgets it when the keys change', async () => {
    const k = await signer('k1')
    const v = apiTokenVerifier({ issuer, audience })
    v.setKeys([k.jwk])
    const token = await k.sign({})
    expect(await v.verify(token)).toBeDefined()
    expect(await v.verify(token)).toBeDefined()
    // the key that signed it is retired: the remembered answer must not outlive it
    const next = await signer('k2')
    v.setKeys([next.jwk])
    expect(await v.verify(token)).toBeUndefined()

    // exp a few seconds ahead (a busy machine may take a second between signing and verifying),
    // then wait until it has passed
    const exp = Math.floor(Date.now() / 1000) + 4
    const shortLived = await next.sign({}, exp)
    expect(await v.verify(shortLived)).toBeDefined()
    while (Date.now() / 1000 <= exp + 1) await new Promise((r) => setTimeout(r, 250))
    expect(await v.verify(shortLived)).toBeUndefined()
  })

  it('keeps answering correctly after evicting from a full cache', async () => {
    const k = await signer('k1')
    const v = apiTokenVerifier({ issuer, audience, cacheSize: 2 })
    v.setKeys([k.jwk])
    const tokens = await Promise.all([1, 2, 3].map((i) => k.sign({ jti: String(i) })))
    for (const t of tokens) expect(await v.verify(t)).toBeDefined()
    // still answers for the evicted first token (verified again), never wrongly
    expect(await v.verify(tokens[0]!)).toBeDefined()
  })
})

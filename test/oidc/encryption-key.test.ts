import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testContainer } from '../helpers/container.ts'

/**
 * The encryption key (RFC 9101 §6.1 request objects) comes with every key generation; an
 * installation whose keys predate it gets one added at start, its signers untouched.
 */
describe('the encryption key of a key generation', () => {
  let t: Awaited<ReturnType<typeof testContainer>>
  beforeAll(async () => {
    t = await testContainer()
  }, 120_000)
  afterAll(async () => {
    await t?.dispose()
  })

  it('is added to a generation without one, and only then', async () => {
    const active = async () => (await t.c.keys.list()).filter((k) => k.status === 'active')
    expect((await active()).map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'RS256', 'RSA-OAEP-256'])
    // as a database from before encrypted request objects
    await t.c.db.signingKey.deleteMany({ where: { alg: 'RSA-OAEP-256' } })
    const signers = (await active()).map((k) => k.kid).sort()
    expect(await t.c.keys.ensure()).toBe(true)
    const after = await active()
    expect(
      after
        .filter((k) => k.alg !== 'RSA-OAEP-256')
        .map((k) => k.kid)
        .sort(),
    ).toEqual(signers)
    expect(after.filter((k) => k.alg === 'RSA-OAEP-256')).toHaveLength(1)
    expect(await t.c.keys.ensure()).toBe(false)
    const published = await t.c.keys.publicJwks()
    expect(published.find((k) => k.alg === 'RSA-OAEP-256')).toMatchObject({ use: 'enc', kty: 'RSA' })
    expect(published.every((k) => k.d === undefined)).toBe(true)
  })
})

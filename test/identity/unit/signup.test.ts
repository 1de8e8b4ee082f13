import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/env.ts'
import { domainAllowed } from '../../../src/identity/registration.ts'
import { leadingZeroBits, proofOfWork, solveProofOfWork } from '../../../src/identity/signup-challenge.ts'

describe('allowed registration domains', () => {
  it('matches a domain exactly and *.domain for its subdomains only', () => {
    const allowed = ['example.com', '*.example.org']
    expect(domainAllowed('A@Example.COM', allowed)).toBe(true)
    expect(domainAllowed('a@sub.example.com', allowed)).toBe(false)
    expect(domainAllowed('a@notexample.com', allowed)).toBe(false)
    expect(domainAllowed('a@dept.example.org', allowed)).toBe(true)
    expect(domainAllowed('a@example.org', allowed)).toBe(false)
    expect(domainAllowed('a@evilexample.org', allowed)).toBe(false)
    expect(domainAllowed('a@anything.test', [])).toBe(true)
  })
  it('is read from REGISTRATION_ALLOWED_DOMAINS, and a bad entry is named', () => {
    expect(
      loadConfig({ REGISTRATION_ALLOWED_DOMAINS: ' Example.com , *.example.org' }).REGISTRATION_ALLOWED_DOMAINS,
    ).toEqual(['example.com', '*.example.org'])
    expect(loadConfig({}).REGISTRATION_ENABLED).toBe(false)
    expect(() => loadConfig({ REGISTRATION_ALLOWED_DOMAINS: 'exa mple.com' })).toThrow(/REGISTRATION_ALLOWED_DOMAINS/)
    expect(() => loadConfig({ REGISTRATION_POW_BITS: '40' })).toThrow(/REGISTRATION_POW_BITS/)
  })
})

describe('proof of work', () => {
  const key = crypto.randomBytes(32)
  it('counts leading zero bits', () => {
    expect(leadingZeroBits(Buffer.from([0, 0, 0x10]))).toBe(19)
    expect(leadingZeroBits(Buffer.from([0x80]))).toBe(0)
    expect(leadingZeroBits(Buffer.from([0, 1]))).toBe(15)
  })
  it('accepts a solved challenge once; refuses a forged, weakened, unsolved or expired one', async () => {
    const pow = proofOfWork({ key, bits: 10, redisPrefix: 't:' })
    const { fields, scripts } = pow.issue()
    expect(scripts).toEqual(['/assets/pow.js'])
    const challenge = fields.pow_challenge!
    const nonce = solveProofOfWork(challenge, 10)
    const meta = { ip: '192.0.2.1' }
    // unsolved
    const wrong = [...Array(50).keys()]
      .map(String)
      .find((n) => leadingZeroBits(crypto.createHash('sha256').update(`${challenge}:${n}`).digest()) < 10)!
    expect(await pow.verify({ pow_challenge: challenge, pow_nonce: wrong }, meta)).toBe(false)
    // forged mac, weakened bits
    const parts = challenge.split('.')
    const weakened = [parts[0], parts[1], '1', parts[3], parts[4]].join('.')
    expect(await pow.verify({ pow_challenge: weakened, pow_nonce: solveProofOfWork(weakened, 1) }, meta)).toBe(false)
    expect(await pow.verify({ pow_challenge: challenge.slice(0, -2) + 'AA', pow_nonce: nonce }, meta)).toBe(false)
    // another server's key
    expect(
      await proofOfWork({ key: crypto.randomBytes(32), bits: 10, redisPrefix: 't:' }).verify(
        { pow_challenge: challenge, pow_nonce: nonce },
        meta,
      ),
    ).toBe(false)
    // good, once
    expect(await pow.verify({ pow_challenge: challenge, pow_nonce: nonce }, meta)).toBe(true)
    expect(await pow.verify({ pow_challenge: challenge, pow_nonce: nonce }, meta)).toBe(false)
    // expired
    const old = proofOfWork({ key, bits: 4, ttlSeconds: -1, redisPrefix: 't:' })
    const c = old.issue().fields.pow_challenge!
    expect(await old.verify({ pow_challenge: c, pow_nonce: solveProofOfWork(c, 4) }, meta)).toBe(false)
    // hostile shapes
    for (const f of [
      {},
      { pow_challenge: 'x', pow_nonce: '1' },
      { pow_challenge: challenge, pow_nonce: '-1' },
      { pow_challenge: challenge, pow_nonce: '1'.repeat(20) },
    ]) {
      expect(await pow.verify(f, meta)).toBe(false)
    }
  })
})

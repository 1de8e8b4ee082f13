import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { newKey, newKeyId, parseKey } from '../../../src/apikeys/format.ts'
import { secretHasher } from '../../../src/apikeys/hashing.ts'
import { keyVerifier } from '../../../src/apikeys/verify.ts'
import { nonceStore } from '../../../src/apikeys/replay.ts'
import type { KeyCache } from '../../../src/apikeys/verify.ts'
import type { KeyRateLimiter, UsageRecorder } from '../../../src/apikeys/usage.ts'

describe('key format', () => {
  it('pcs_<16 id>_<43 secret><6 crc>, base62, unique', () => {
    const id = newKeyId()
    const { key, secret } = newKey(id)
    expect(key).toMatch(/^pcs_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}$/)
    expect(parseKey(key)).toEqual({ ok: true, id, secret })
    expect(new Set(Array.from({ length: 200 }, () => newKey(newKeyId()).key)).size).toBe(200)
  })

  it('the checksum catches every single-character typo, truncation and transposition', () => {
    const { key } = newKey(newKeyId())
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
    for (let i = 4; i < key.length; i++) {
      if (key[i] === '_') continue
      const c = alphabet[(alphabet.indexOf(key[i]!) + 1 + (i % 60)) % 62]!
      expect(parseKey(key.slice(0, i) + c + key.slice(i + 1)).ok).toBe(false)
    }
    expect(parseKey(key.slice(0, -1))).toEqual({ ok: false, reason: 'malformed' })
    const swapped = key.slice(0, 30) + key[31] + key[30] + key.slice(32)
    if (swapped !== key) expect(parseKey(swapped)).toEqual({ ok: false, reason: 'checksum' })
    for (const bad of ['', 'pcs_', 'ghp_abc', `PCS_${key.slice(4)}`, `${key} `, key.replace('_', '-')])
      expect(parseKey(bad).ok).toBe(false)
  })

  it('a mistyped key is rejected without any lookup', async () => {
    let lookups = 0
    const cache = {
      get: async () => {
        lookups++
        return null
      },
    } as unknown as KeyCache
    const ring = { currentId: 'k1', keys: new Map([['k1', crypto.randomBytes(32)]]) }
    const verify = keyVerifier({
      cache,
      hasher: secretHasher(ring),
      nonces: nonceStore({ prefix: '', ttlSeconds: 600 }),
      limiter: {} as KeyRateLimiter,
      usage: {} as UsageRecorder,
      maxSkew: 300,
    })
    const { key } = newKey(newKeyId())
    const typo = key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a')
    const r = await verify(typo, { ip: '127.0.0.1' })
    expect(r).toMatchObject({ ok: false, status: 401, message: expect.stringMatching(/checksum/) })
    expect(await verify('pcs_garbage', { ip: '127.0.0.1' })).toMatchObject({ ok: false })
    expect(lookups).toBe(0)
    await verify(key, { ip: '127.0.0.1' }) // well-formed: one lookup
    expect(lookups).toBe(1)
  })
})

describe('secret hashing', () => {
  const ring = {
    currentId: 'new',
    keys: new Map([
      ['new', crypto.randomBytes(32)],
      ['old', crypto.randomBytes(32)],
    ]),
  }
  const h = secretHasher(ring)

  it('stores HMAC-SHA256 under a master-key pepper, verifiable after master key rotation', () => {
    const { secret } = newKey(newKeyId())
    const stored = h.hash(secret)
    expect(stored.pepperKid).toBe('new')
    expect(stored.hash).not.toContain(secret)
    expect(h.verify(secret, stored.hash, 'new')).toBe(true)
    expect(h.verify(secret + 'x', stored.hash, 'new')).toBe(false)
    expect(h.verify(secret, stored.hash, 'old')).toBe(false)
    expect(h.verify(secret, stored.hash, 'gone')).toBe(false)
    // A hash made under the old master key still verifies while that key is in the ring.
    const oldOnly = secretHasher({ currentId: 'old', keys: ring.keys })
    const legacy = oldOnly.hash(secret)
    expect(h.verify(secret, legacy.hash, 'old')).toBe(true)
  })

  it('refuses a near miss and a far miss alike (timing is measured in bench/constant-time.ts, not asserted here)', () => {
    const { secret } = newKey(newKeyId())
    const stored = h.hash(secret).hash
    const near = secret.slice(0, -1) + (secret.endsWith('a') ? 'b' : 'a')
    expect(h.verify(near, stored, 'new')).toBe(false)
    expect(h.verify('z'.repeat(secret.length), stored, 'new')).toBe(false)
    expect(h.verify('', stored, 'new')).toBe(false)
    expect(h.verify(secret, stored, 'new')).toBe(true)
  })
})

import fs from 'node:fs'
import path from 'node:path'
import { generate } from 'otplib'
import { describe, expect, it } from 'vitest'
import { TOTP_PERIOD, verifyTotp } from '../../../src/identity/totp.ts'
import { passwordProblems } from '../../../src/identity/password-policy.ts'
import { breachedListSize, isBreached } from '../../../src/identity/breached-passwords.ts'

const vectors = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), '../shared/conformance/vectors.json'), 'utf8'))
const totp = vectors.rfc6238_totp as {
  seeds: Record<string, { base32: string }>
  vectors: { unix_time: number; mode: string; totp: string }[]
  digits: number
}

describe('TOTP (RFC 6238)', () => {
  it.each(totp.vectors)('Appendix B: T=$unix_time $mode -> $totp', async (v) => {
    const code = await generate({
      secret: totp.seeds[v.mode]!.base32,
      algorithm: v.mode.toLowerCase() as 'sha1',
      digits: 8,
      period: 30,
      epoch: v.unix_time,
    })
    expect(code).toBe(v.totp)
  })

  it('accepts the current step and one either side, nothing further', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
    const now = 1_700_000_000
    for (const [offset, ok] of [
      [0, true],
      [-TOTP_PERIOD, true],
      [TOTP_PERIOD, true],
      [-2 * TOTP_PERIOD, false],
      [2 * TOTP_PERIOD, false],
    ] as const) {
      const code = await generate({ secret, epoch: now + offset })
      expect((await verifyTotp(secret, code, { now })) !== undefined, `offset ${offset}`).toBe(ok)
    }
  })

  it('refuses a code for a step at or before the last accepted one (replay)', async () => {
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
    const now = 1_700_000_000
    const code = await generate({ secret, epoch: now })
    const step = await verifyTotp(secret, code, { now })
    expect(step).toBe(Math.floor(now / 30))
    expect(await verifyTotp(secret, code, { now, afterStep: step })).toBeUndefined()
  })

  it('refuses malformed codes without throwing', async () => {
    for (const code of ['', '12345', '1234567', 'abcdef', '12 34 5x'])
      expect(await verifyTotp('GEZDGNBVGY3TQOJQ', code)).toBeUndefined()
    expect(await verifyTotp('not base32!!', '123456')).toBeUndefined()
  })
})

describe('password policy: breached list and strength', () => {
  it('bundles the 1,000,000-entry common password list', () => {
    expect(breachedListSize()).toBeGreaterThan(990_000)
    expect(isBreached('iloveyou1234', 12)).toBe(true)
    expect(isBreached('ILoveYou1234', 12)).toBe(true) // compared ignoring case
  })
  it('refuses common, weak, and email-derived passwords with clear messages', () => {
    expect(passwordProblems('iloveyou1234', { minLength: 12 })[0]).toMatch(/lists of common or leaked passwords/)
    expect(passwordProblems('qzxqzxqzxqzxqzx', { minLength: 12 })[0]).toMatch(/too easy to guess/)
    expect(passwordProblems('qwertyuiop123', { minLength: 12 }).join(' ')).toMatch(/common|too easy/)
    expect(passwordProblems('ann.example.lamp', { minLength: 12, email: 'ann.example@x.org' })).toContain(
      'Do not use your email address in your password.',
    )
  })
  it('accepts long unrelated words and random strings', () => {
    for (const p of ['violet-cactus-harbor-91', 'R7#kq!29xLmP', 'correct horse battery staple'])
      expect(passwordProblems(p, { minLength: 12 })).toEqual([])
  })
})

import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { hashPassword, isArgon2Hash, needsRehash, verifyPassword } from '../../../src/identity/passwords.ts'
import { passwordProblems } from '../../../src/identity/password-policy.ts'

const vectors = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), '../shared/conformance/vectors.json'), 'utf8'))

describe('password hashing (argon2id, OWASP parameters)', () => {
  it('hashes with m=19456, t=2, p=1 and verifies', async () => {
    const h = await hashPassword('correct horse battery staple')
    expect(h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(await verifyPassword(h, 'correct horse battery staple')).toBe(true)
    expect(await verifyPassword(h, 'correct horse battery stapl')).toBe(false)
    expect(needsRehash(h)).toBe(false)
  })

  it('verifies the Argon2 reference implementation hashes (v=19), and marks them for rehash', async () => {
    const cases = (
      vectors.argon2_phc_reference.vectors as {
        version: number
        encoded: string
        password: string
        test_large_ram_only: boolean
      }[]
    ).filter((v) => v.version === 19 && !v.test_large_ram_only && v.encoded.startsWith('$argon2'))
    expect(cases.length).toBeGreaterThan(0)
    for (const v of cases) {
      const encoded = v.encoded.includes('$v=') ? v.encoded : v.encoded.replace(/^(\$argon2\w+)\$/, '$1$v=19$')
      expect(await verifyPassword(encoded, v.password), encoded).toBe(true)
      expect(await verifyPassword(encoded, v.password + 'x')).toBe(false)
      expect(needsRehash(encoded)).toBe(true)
    }
  })

  it('never verifies against a malformed stored hash', async () => {
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false)
    expect(isArgon2Hash('$2b$10$abcdefghijklmnopqrstuv')).toBe(false)
  })
})

describe('password policy (NIST SP 800-63B)', () => {
  it('accepts long passphrases without composition rules', () => {
    expect(passwordProblems('quiet river lamp orbit', { minLength: 12, email: 'ann@example.com' })).toEqual([])
  })
  it('enforces the minimum and maximum length in characters', () => {
    expect(passwordProblems('short', { minLength: 12 })).toEqual(['Use at least 12 characters.'])
    // 12 code points (24 UTF-16 units), all different: long enough and not a repeated pattern.
    expect(passwordProblems('🔑🌲🚲🎻🦉🍋🧭🪁🐙🥨🛶🧊', { minLength: 12 })).toEqual([])
    expect(passwordProblems('🔑🌲🚲🎻🦉🍋🧭🪁🐙🥨🛶', { minLength: 12 })).toEqual(['Use at least 12 characters.'])
    expect(passwordProblems('a'.repeat(129), { minLength: 12 })).toContain('Use at most 128 characters.')
  })
  it('refuses passwords containing the email local part', () => {
    expect(passwordProblems('my-name-is-annabel-123', { minLength: 12, email: 'Annabel@example.com' })).toContain(
      'Do not use your email address in your password.',
    )
  })
})

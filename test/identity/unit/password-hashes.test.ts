import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { hash as argon2Hash } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parsePasswordHash } from '../../../src/identity/password-hashes.ts'
import { hashFormat, needsRehash, verifyPassword } from '../../../src/identity/passwords.ts'

const vectors = JSON.parse(fs.readFileSync(path.resolve(process.cwd(), '../shared/conformance/vectors.json'), 'utf8'))

const b64 = (b: Buffer) => b.toString('base64').replace(/=+$/, '')
const ab64 = (b: Buffer) => b64(b).replace(/\+/g, '.')
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex')

/** Both ways: the right password verifies, a near miss does not. */
async function expectVerifies(stored: string, password: string) {
  expect(parsePasswordHash(stored).ok, stored).toBe(true)
  expect(await verifyPassword(stored, password), stored).toBe(true)
  expect(await verifyPassword(stored, password + 'x'), stored).toBe(false)
  expect(needsRehash(stored)).toBe(true)
}

describe('imported password hashes: published vectors', () => {
  // RFC 6070 §2 (PBKDF2-HMAC-SHA1), in passlib's "$pbkdf2$" (SHA-1) and PHC i= notations.
  it('PBKDF2-HMAC-SHA1 (RFC 6070)', async () => {
    const cases = [
      { c: 1, dk: '0c60c80f961f0e71f3a9b524af6012062fe037a6' },
      { c: 2, dk: 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957' },
      { c: 4096, dk: '4b007901b765489abead49d926f721d065a429c1' },
    ]
    for (const { c, dk } of cases) {
      await expectVerifies(`$pbkdf2$${c}$${ab64(Buffer.from('salt'))}$${ab64(hex(dk))}`, 'password')
      await expectVerifies(`$pbkdf2-sha1$i=${c}$${b64(Buffer.from('salt'))}$${b64(hex(dk))}`, 'password')
    }
  })

  // RFC 7914 §11 (PBKDF2-HMAC-SHA256), as Django and Werkzeug would store it.
  it('PBKDF2-HMAC-SHA256 (RFC 7914 §11)', async () => {
    const dk1 = hex(
      '55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc 49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83',
    )
    await expectVerifies(`pbkdf2_sha256$1$salt$${dk1.toString('base64')}`, 'passwd')
    await expectVerifies(`pbkdf2:sha256:1$salt$${dk1.toString('hex')}`, 'passwd')
    await expectVerifies(`$pbkdf2-sha256$i=1$${b64(Buffer.from('salt'))}$${b64(dk1)}`, 'passwd')
  })

  // RFC 7914 §12 (scrypt); vector 4 (N=2^20, r=8: 1 GiB) is over the memory limit.
  it('scrypt (RFC 7914 §12), and the 1 GiB vector refused as over the limit', async () => {
    const v2 = hex(
      'fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62 2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40',
    )
    const v3 = hex(
      '70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2 d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9 e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87',
    )
    await expectVerifies(`$scrypt$ln=10,r=8,p=16$${ab64(Buffer.from('NaCl'))}$${ab64(v2)}`, 'password')
    await expectVerifies(`scrypt:1024:8:16$NaCl$${v2.toString('hex')}`, 'password')
    await expectVerifies(`$scrypt$ln=14,r=8,p=1$${b64(Buffer.from('SodiumChloride'))}$${b64(v3)}`, 'pleaseletmein')
    await expectVerifies(`scrypt$16384$SodiumChloride$8$1$${v3.toString('base64')}`, 'pleaseletmein')
    const v4 = `$scrypt$ln=20,r=8,p=1$${b64(Buffer.from('SodiumChloride'))}$${b64(crypto.randomBytes(64))}`
    expect(parsePasswordHash(v4)).toMatchObject({ ok: false, reason: 'over_limit' })
  })

  it('argon2i/d/id reference hashes (phc-winner-argon2 test.c), with and without v=', async () => {
    const cases = (
      vectors.argon2_phc_reference.vectors as {
        encoded: string
        password: string
        test_large_ram_only: boolean
        m_kib: number
      }[]
    ).filter((v) => !v.test_large_ram_only && v.m_kib <= 65536 && v.encoded.startsWith('$argon2'))
    expect(cases.some((v) => !v.encoded.includes('$v='))).toBe(true)
    for (const v of cases) await expectVerifies(v.encoded, v.password)
    const refused = (vectors.argon2_phc_reference.vectors as { encoded: string; m_kib: number }[]).find(
      (v) => v.m_kib > 262144 && v.encoded.startsWith('$argon2'),
    )
    expect(parsePasswordHash(refused!.encoded)).toMatchObject({ ok: false, reason: 'over_limit' })
  })

  it("passlib's documented pbkdf2_sha256 example", async () => {
    // https://passlib.readthedocs.io (front page): pbkdf2_sha256.hash("toomanysecrets")
    await expectVerifies(
      '$pbkdf2-sha256$29000$N2YMIWQsBWBMae09x1jrPQ$1t8iyB2A.WF/Z5JZv.lfCIhXXN33N23OSgQYThBYRfk',
      'toomanysecrets',
    )
  })
})

describe("imported password hashes: written by the formats' own libraries", () => {
  const pw = 'Grüße, 世界! long enough'
  const salt = crypto.randomBytes(16)

  it('bcrypt $2a$, $2b$, $2y$ (bcryptjs) and Django bcrypt / bcrypt_sha256', async () => {
    const h = bcrypt.hashSync(pw, 4)
    for (const v of ['a', 'b', 'y']) await expectVerifies(h.replace(/^\$2b\$/, `$2${v}$`), pw)
    await expectVerifies(`bcrypt$${h}`, pw)
    const pre = crypto.createHash('sha256').update(pw).digest('hex')
    await expectVerifies(`bcrypt_sha256$${bcrypt.hashSync(pre, 4)}`, pw)
    expect(hashFormat(h)).toBe('bcrypt')
  })

  it('PBKDF2 (crypto.pbkdf2Sync) in PHC, passlib, Django and Werkzeug notation', async () => {
    for (const digest of ['sha1', 'sha256', 'sha512']) {
      const dk = crypto.pbkdf2Sync(pw, salt, 1000, digest === 'sha512' ? 64 : 32, digest)
      await expectVerifies(`$pbkdf2-${digest}$i=1000$${b64(salt)}$${b64(dk)}`, pw)
      await expectVerifies(`$pbkdf2-${digest}$1000$${ab64(salt)}$${ab64(dk)}`, pw)
      await expectVerifies(`$pbkdf2-${digest}$i=1000$${salt.toString('base64url')}$${dk.toString('base64url')}`, pw)
      await expectVerifies(`$pbkdf2-${digest}$1000$${salt.toString('base64')}$${dk.toString('base64')}`, pw)
    }
    const textSalt = 'SbXj3cD2oXPT6n4U'
    await expectVerifies(
      `pbkdf2_sha256$100000$${textSalt}$${crypto.pbkdf2Sync(pw, textSalt, 100000, 32, 'sha256').toString('base64')}`,
      pw,
    )
    await expectVerifies(
      `pbkdf2:sha256:100000$${textSalt}$${crypto.pbkdf2Sync(pw, textSalt, 100000, 32, 'sha256').toString('hex')}`,
      pw,
    )
    expect(hashFormat(`pbkdf2_sha256$100000$${textSalt}$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`)).toBe(
      'django-pbkdf2_sha256',
    )
  })

  it('scrypt (crypto.scryptSync) in passlib and Werkzeug notation', async () => {
    const dk = crypto.scryptSync(pw, salt, 32, { N: 2 ** 14, r: 8, p: 1 })
    await expectVerifies(`$scrypt$ln=14,r=8,p=1$${ab64(salt)}$${ab64(dk)}`, pw)
    const textSalt = 'q1vYQ4m0kkqzS2jX'
    await expectVerifies(
      `scrypt:32768:8:1$${textSalt}$${crypto.scryptSync(pw, textSalt, 64, { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }).toString('hex')}`,
      pw,
    )
  })

  it("argon2 with other parameters (@node-rs/argon2), and Django's argon2$ prefix", async () => {
    for (const algorithm of [0, 1, 2] as const) {
      const h = await argon2Hash(pw, { algorithm, memoryCost: 4096, timeCost: 3, parallelism: 2 })
      await expectVerifies(h, pw)
      await expectVerifies(`argon2${h}`, pw)
    }
  })
})

describe('imported password hashes: refusals', () => {
  it('names malformed hashes and work over the limits', () => {
    const dk = b64(crypto.randomBytes(32))
    const s = b64(crypto.randomBytes(16))
    const over = [
      `$pbkdf2-sha256$i=10000001$${s}$${dk}`,
      `pbkdf2_sha256$20000000$salt$${crypto.randomBytes(32).toString('base64')}`,
      `$2b$15$${'a'.repeat(53)}`,
      `$scrypt$ln=21,r=1,p=1$${s}$${dk}`,
      `$scrypt$ln=17,r=32,p=1$${s}$${dk}`,
      `scrypt:32768:8:17$salt$${'ab'.repeat(32)}`,
      `$argon2id$v=19$m=1048576,t=2,p=1$${s}$${dk}`,
      `$argon2id$v=19$m=65536,t=100,p=1$${s}$${dk}`,
    ]
    for (const h of over) expect(parsePasswordHash(h), h).toMatchObject({ ok: false, reason: 'over_limit' })
    const bad = [
      '$2b$10$tooshort',
      `$2b$03$${'a'.repeat(53)}`,
      `$pbkdf2-md5$1000$${s}$${dk}`,
      `$pbkdf2-sha256$0$${s}$${dk}`,
      `$pbkdf2-sha256$1e5$${s}$${dk}`,
      `$pbkdf2-sha256$1000$${s}$AAAA`,
      `$pbkdf2-sha256$1000$${s}$not*base64`,
      `pbkdf2:sha256$salt$${'ab'.repeat(32)}`,
      `pbkdf2:sha256:1000$salt$nothex`,
      `$scrypt$ln=14,r=8$${s}$${dk}`,
      `scrypt:1000:8:1$salt$${'ab'.repeat(32)}`,
      `$argon2id$v=19$m=19456,t=2$${s}$${dk}`,
      'pbkdf2_sha256$100000$$',
    ]
    for (const h of bad) expect(parsePasswordHash(h), h).toMatchObject({ ok: false, reason: 'malformed' })
    for (const h of ['', 'hunter2', '{SSHA}abc', '$1$abc$def', 'md5$salt$hash', '$6$rounds=5000$salt$hash']) {
      expect(parsePasswordHash(h), h).toMatchObject({ ok: false, reason: 'unknown_format' })
    }
  })

  it('never throws on arbitrary strings, prefixed or not (fast-check)', () => {
    const prefixes = [
      '',
      '$2b$',
      '$2y$1',
      '$pbkdf2$',
      '$pbkdf2-sha256$',
      '$pbkdf2-sha256$i=',
      '$scrypt$ln=',
      'pbkdf2_sha256$',
      'scrypt$',
      'argon2$',
      'bcrypt$',
      'bcrypt_sha256$',
      'pbkdf2:',
      'scrypt:',
      '$argon2id$v=19$m=',
    ]
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.string({ unit: 'binary', maxLength: 200 }), (prefix, rest) => {
        const r = parsePasswordHash(prefix + rest)
        if (!r.ok) expect(['unknown_format', 'malformed', 'over_limit']).toContain(r.reason)
      }),
      { numRuns: 3000 },
    )
    // Without a known prefix, a string is always just "unknown format".
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const r = parsePasswordHash(s)
        if (!/^(\$|pbkdf2|scrypt|argon2|bcrypt)/.test(s))
          expect(r).toMatchObject({ ok: false, reason: 'unknown_format' })
        else expect(r.ok ? 'ok' : r.reason).toBeTypeOf('string')
      }),
      { numRuns: 2000 },
    )
  })

  it('a random string over a known prefix verifies nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('$2b$04$', '$pbkdf2-sha256$1$', 'pbkdf2:sha1:1$', '$scrypt$ln=4,r=1,p=1$'),
        fc.string({ maxLength: 80 }),
        async (prefix, rest) => {
          expect(await verifyPassword(prefix + rest, 'password')).toBe(false)
        },
      ),
      { numRuns: 200 },
    )
  })
})

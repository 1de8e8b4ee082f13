import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { safeEqual } from '../../../src/crypto/constant-time.ts'

describe('safeEqual (constant-time comparison of secrets)', () => {
  it('is true for equal values and false for unequal values of the same length', () => {
    const token = crypto.randomBytes(32).toString('base64url')
    expect(safeEqual(token, token)).toBe(true)
    expect(safeEqual(token, `${token}`.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A'))).toBe(false)
    expect(safeEqual('', '')).toBe(true)
  })

  it('neither throws nor matches on unequal byte lengths (empty, prefix, 1 MiB vs 1 byte)', () => {
    const big = Buffer.alloc(1024 * 1024, 0x61)
    expect(safeEqual(big, 'a')).toBe(false)
    expect(safeEqual('a', big)).toBe(false)
    expect(safeEqual('', 'a')).toBe(false)
    expect(safeEqual('secret', '')).toBe(false)
    expect(safeEqual('secret', 'secret-and-more')).toBe(false)
    expect(safeEqual(Buffer.alloc(0), Buffer.alloc(1))).toBe(false)
    expect(safeEqual(big, Buffer.from(big))).toBe(true)
  })

  it('compares Buffers with strings by their UTF-8 bytes', () => {
    expect(safeEqual(Buffer.from('héllo ✓', 'utf8'), 'héllo ✓')).toBe(true)
    expect(safeEqual('héllo ✓', Buffer.from('héllo ✓', 'utf8'))).toBe(true)
    expect(safeEqual(Buffer.from('hello', 'utf8'), 'héllo')).toBe(false)
    expect(safeEqual(Buffer.from([0xff, 0x00]), Buffer.from([0xff, 0x00]))).toBe(true)
    expect(safeEqual(Buffer.from([0xff, 0x00]), Buffer.from([0xff, 0x01]))).toBe(false)
  })

  it('handles multi-byte UTF-8: equal code points match, different code points with equal byte or unit lengths do not', () => {
    expect(safeEqual('😀', '😀')).toBe(true)
    expect(safeEqual('é', 'è')).toBe(false) // both 2 UTF-8 bytes
    expect(safeEqual('€', 'ab')).toBe(false) // 3 bytes vs 2 bytes
    expect(safeEqual('\u00e9', 'e\u0301')).toBe(false) // NFC vs NFD: different bytes, no normalisation
    // UTF-8 encodes every lone surrogate as U+FFFD; they must still not equal U+FFFD or each other.
    expect(safeEqual('\uD800', '\uFFFD')).toBe(false)
    expect(safeEqual('\uD800', '\uDC00')).toBe(false)
    expect(safeEqual('\uD800', '\uD800')).toBe(true)
  })

  it('for strings, is exactly ===', () => {
    // A small alphabet (with multi-byte and lone-surrogate units) makes equal pairs and
    // near-misses common, not just the trivially different pairs random strings give.
    const unit = fc.constantFrom('a', 'b', 'é', '€', '😀', '\uD800', '\uFFFD', '\0')
    const str = fc.string({ unit, maxLength: 6 })
    fc.assert(
      fc.property(str, str, (a, b) => safeEqual(a, b) === (a === b)),
      { seed: 13, numRuns: 2000 },
    )
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary' }),
        (a, b) => safeEqual(a, b) === (a === b),
      ),
      { seed: 13 },
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (a) => safeEqual(a, a)),
      { seed: 13 },
    )
  })

  it('is the only place in src/ that calls crypto.timingSafeEqual', () => {
    // A length check followed by timingSafeEqual leaks the secret's length and throws on a
    // mismatch if the check is forgotten; every comparison goes through the one helper.
    const offenders: string[] = []
    const walk = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) {
          if (e.name !== 'generated') walk(p)
        } else if (p.endsWith('.ts') && !p.endsWith(path.join('crypto', 'constant-time.ts'))) {
          if (/timingSafeEqual\s*\(/.test(fs.readFileSync(p, 'utf8'))) offenders.push(p)
        }
      }
    }
    walk(path.resolve(import.meta.dirname, '../../../src'))
    expect(offenders).toEqual([])
  })
})

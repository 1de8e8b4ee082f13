import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crossSiteReason } from '../../../src/http/cross-site.ts'
import { loggableRequestId, requestIdFrom } from '../../../src/http/middleware/request.ts'

const OURS = 'https://id.example.com'
const fetchSite = fc.constantFrom(undefined, 'same-origin', 'same-site', 'cross-site', 'none', 'CROSS-SITE')

describe('cross-site form guard decision', () => {
  it('property: any Origin other than ours is refused, whatever Sec-Fetch-Site says', () => {
    const origin = fc.oneof(
      fc.webUrl().map((u) => new URL(u).origin),
      fc.constant('null'),
      fc.string({ minLength: 1, maxLength: 40 }),
      fc.constant(`${OURS}:443x`),
      fc.constant('http://id.example.com'),
    )
    fc.assert(
      fc.property(
        origin.filter((o) => o !== OURS),
        fetchSite,
        (o, site) => {
          expect(crossSiteReason(OURS, o, site)).toBeDefined()
        },
      ),
    )
  })

  it('property: Sec-Fetch-Site cross-site is refused whatever Origin says; same-site needs our Origin', () => {
    fc.assert(
      fc.property(fc.constantFrom(undefined, OURS, 'null'), (o) => {
        expect(crossSiteReason(OURS, o, 'cross-site')).toBeDefined()
        expect(crossSiteReason(OURS, o, 'same-site') === undefined).toBe(o === OURS)
      }),
    )
  })

  it('our own origin, same-origin or user-initiated requests, and clients sending neither header pass', () => {
    for (const site of [undefined, 'same-origin', 'none']) {
      expect(crossSiteReason(OURS, OURS, site)).toBeUndefined()
      expect(crossSiteReason(OURS, undefined, site)).toBeUndefined()
    }
  })
})

describe('X-Request-ID', () => {
  it('property: printable ids up to 256 characters come back as sent; their logged form is plain and at most 128 characters', () => {
    const id = fc.string({
      unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
      minLength: 1,
      maxLength: 256,
    })
    fc.assert(
      fc.property(id, (v) => {
        expect(requestIdFrom(v)).toBe(v)
        expect(loggableRequestId(v)).toMatch(/^[\w.:%-]{1,128}$/)
      }),
    )
  })

  it('property: control, non-ASCII and over-long ids are replaced by a generated one', () => {
    const bad = fc.oneof(
      fc.string({ minLength: 257, maxLength: 400 }).map((s) => `x${s}`.slice(0, 300).padEnd(257, 'x')),
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0, max: 0x1f }), fc.string({ maxLength: 10 }))
        .map(([a, c, b]) => `${a}${String.fromCharCode(c)}${b}`),
      fc
        .tuple(fc.string({ maxLength: 10 }), fc.integer({ min: 0x7f, max: 0xff }))
        .map(([a, c]) => `${a}${String.fromCharCode(c)}`),
    )
    fc.assert(
      fc.property(bad, (v) => {
        expect(requestIdFrom(v)).toMatch(/^[0-9a-f-]{36}$/)
      }),
    )
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { emailChangedNotice, passwordResetMail, verifyEmailMail } from '../../../src/mail/templates.ts'

/**
 * Every mail template escapes what it is given in its HTML part (product name, addresses,
 * links): no value can add markup or break out of an attribute, whatever it contains.
 */
const hostile = fc.oneof(
  fc.string(),
  fc.constantFrom(
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='x",
    '&lt;already&gt;',
    'a&b<c>d"e\'f',
  ),
)
const MARK = 'zq9'
// What the HTML would have to contain for a value to have escaped: a tag or quote from the value.
const leaked = (htmlPart: string, value: string) => /[<>"']/.test(value) && htmlPart.includes(value)

describe('mail templates', () => {
  it('escape every value in the HTML part and keep it verbatim in the text part', () => {
    fc.assert(
      fc.property(hostile, hostile, (name, value) => {
        // Marked, so a value is never mistaken for the template's own text.
        const product = `${MARK}${name}`
        const to = `${MARK}${value}@example.com`
        const link = `https://id.example.com/password/reset?token=${encodeURIComponent(value)}`
        for (const mail of [
          passwordResetMail({ product }, { to, link, ttlSeconds: 1800 }),
          verifyEmailMail({ product }, { to, link, ttlSeconds: 86400, change: true }),
          emailChangedNotice({ product }, { to, newEmail: `${value}@example.net` }),
        ]) {
          expect(leaked(mail.html, product)).toBe(false)
          expect(leaked(mail.html, to)).toBe(false)
          expect(mail.text).toContain(to)
          // the only tags are the template's own
          const tags = new Set([...mail.html.matchAll(/<\/?([a-zA-Z0-9!]+)/g)].map((m) => m[1]!.toLowerCase()))
          for (const t of tags)
            expect([
              '!doctype',
              'html',
              'head',
              'meta',
              'title',
              'body',
              'p',
              'h1',
              'strong',
              'a',
              'br',
              'span',
            ]).toContain(t)
        }
      }),
      { numRuns: 300 },
    )
  })

  it('says how long the link works and carries nothing but the link as a secret', () => {
    const m = passwordResetMail(
      { product: 'Acme ID' },
      { to: 'a@example.com', link: 'https://id.example.com/password/reset?token=T', ttlSeconds: 1800 },
    )
    expect(m.subject).toBe('Reset your Acme ID password')
    expect(m.text).toContain('within 30 minutes')
    expect(m.text.match(/https?:\/\/\S+/g)).toEqual(['https://id.example.com/password/reset?token=T'])
    expect(
      emailChangedNotice({ product: 'Acme ID' }, { to: 'a@example.com', newEmail: 'b@example.com' }).text,
    ).not.toMatch(/https?:\/\//)
  })
})

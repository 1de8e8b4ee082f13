import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/env.ts'
import { ConfigError } from '../../src/errors.ts'

describe('mail and password reset configuration', () => {
  it('defaults: no SMTP (embedded files), STARTTLS required, certificates checked, 30-minute reset links that end sessions', () => {
    const c = loadConfig({})
    expect(c.SMTP_URL).toBeUndefined()
    expect(c.SMTP_REQUIRE_STARTTLS).toBe(true)
    expect(c.SMTP_TLS_REJECT_UNAUTHORIZED).toBe(true)
    expect(c.PASSWORD_RESET_TTL).toBe(1800)
    expect(c.PASSWORD_RESET_ENDS_SESSIONS).toBe(true)
    expect(c.PRODUCT_NAME).toBe('portcullis')
  })

  it('accepts smtp:// and smtps:// with credentials', () => {
    expect(
      loadConfig({ SMTP_URL: 'smtps://u:p%40ss@mail.example.com:465', MAIL_FROM: 'ID <id@example.com>' }).SMTP_URL,
    ).toContain('smtps://')
    expect(loadConfig({ SMTP_URL: 'smtp://mail.example.com', MAIL_FROM: 'id@example.com' }).MAIL_FROM).toBe(
      'id@example.com',
    )
  })

  it.each([
    ['SMTP_URL', { SMTP_URL: 'http://mail.example.com', MAIL_FROM: 'id@example.com' }],
    ['SMTP_URL', { SMTP_URL: 'not a url', MAIL_FROM: 'id@example.com' }],
    ['MAIL_FROM', { SMTP_URL: 'smtp://mail.example.com' }],
    ['MAIL_FROM', { MAIL_FROM: 'nobody' }],
    ['MAIL_FROM', { MAIL_FROM: 'a@b.c\r\nBcc: x@y.z' }],
    ['SMTP_REQUIRE_STARTTLS', { SMTP_REQUIRE_STARTTLS: 'maybe' }],
    ['PASSWORD_RESET_TTL', { PASSWORD_RESET_TTL: '10' }],
    ['PASSWORD_RESET_TTL', { PASSWORD_RESET_TTL: '999999' }],
    ['PRODUCT_NAME', { PRODUCT_NAME: 'Acme\nBcc: x@y.z' }],
  ])('refuses a bad %s at start, naming it', (name, env) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(new RegExp(`${name}:`))
  })

  it('never echoes SMTP_URL (it holds the SMTP password)', () => {
    try {
      loadConfig({ SMTP_URL: 'ftp://user:hunter2@mail.example.com' })
      expect.unreachable()
    } catch (e) {
      expect((e as Error).message).not.toContain('hunter2')
    }
  })
})

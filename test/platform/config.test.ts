import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/env.ts'
import { ConfigError } from '../../src/errors.ts'

describe('configuration from the environment', () => {
  it('has working defaults for the embedded mode', () => {
    const c = loadConfig({})
    expect(c.PORT).toBe(3000)
    expect(c.PUBLIC_URL).toBe('http://localhost:3000')
    expect(c.DATABASE_URL).toMatch(/^file:.*data\/portcullis\.db$/)
    expect(c.embedded).toBe(true)
    expect(Object.isFrozen(c)).toBe(true)
  })

  it('derives the issuer from PORT and strips a trailing slash from PUBLIC_URL', () => {
    expect(loadConfig({ PORT: '4100' }).PUBLIC_URL).toBe('http://localhost:4100')
    expect(loadConfig({ PUBLIC_URL: 'https://id.example.com/' }).PUBLIC_URL).toBe('https://id.example.com')
  })

  it('keeps dynamic client registration off and request objects on by default', () => {
    const c = loadConfig({})
    expect(c.DYNAMIC_REGISTRATION).toBe('off')
    expect(c.REQUEST_OBJECTS).toBe('on')
    expect(c.DYNAMIC_REGISTRATION_SCOPES).not.toContain('admin')
    expect(
      loadConfig({ DYNAMIC_REGISTRATION: 'initial-access-token', DYNAMIC_REGISTRATION_SCOPES: 'openid,email' })
        .DYNAMIC_REGISTRATION_SCOPES,
    ).toEqual(['openid', 'email'])
  })

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', REDIS_URL: '' }).PORT).toBe(3000)
  })

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PUBLIC_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://localhost'],
    ['ACCESS_TOKEN_TTL', '-5'],
    ['TRUST_PROXY', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['PASSWORD_MIN_LENGTH', '4'],
    ['TRUSTED_PROXIES', '10.0.0.0/8, nonsense'],
    ['MANAGEMENT_ALLOWED_IPS', '10.0.0.0/33'],
    ['DYNAMIC_REGISTRATION', 'yes'],
    ['DYNAMIC_REGISTRATION_SCOPES', 'openid admin'],
    ['DYNAMIC_REGISTRATION_IAT_TTL', '0'],
    ['REQUEST_OBJECTS', 'maybe'],
  ])('refuses a bad %s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError)
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`\\b${name}\\b`))
  })

  it('never echoes secret values in the message', () => {
    try {
      loadConfig({ PORTCULLIS_ADMIN_PASSWORD: 'short' })
      expect.unreachable()
    } catch (e) {
      expect((e as Error).message).toContain('PORTCULLIS_ADMIN_PASSWORD')
      expect((e as Error).message).not.toContain('short"')
    }
  })

  it.each([
    [{ TLS_CERT: '/nonexistent/server.crt', TLS_KEY: '/nonexistent/server.key' }, /TLS_CERT: cannot read/],
    [{ TLS_KEY: '/nonexistent/server.key' }, /TLS_CERT: required when TLS_KEY/],
    [{ TLS_CLIENT_CA: '/nonexistent/ca.pem' }, /TLS_CLIENT_CA: cannot read/],
    [{ MTLS_CERT_HEADER: 'X-SSL-Client-Cert' }, /MTLS_CERT_HEADER: needs TRUSTED_PROXIES/],
  ])('fails fast on mutual TLS settings it cannot use (%o), naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError)
    expect(() => loadConfig(env)).toThrow(message)
  })

  it('knows PostgreSQL is not embedded', () => {
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).embedded).toBe(false)
  })
})

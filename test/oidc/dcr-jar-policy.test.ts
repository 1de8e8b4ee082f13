import { describe, expect, it } from 'vitest'
import { dynamicRegistrationProblem } from '../../src/oidc/dynamic-registration.ts'
import { requestUrisProblem } from '../../src/oidc/request-objects.ts'
import { addressAndPhoneClaims } from '../../src/oidc/standard-claims.ts'

const ALLOWED = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access']

describe('what a self-registered client may register', () => {
  it('accepts OpenID scopes and user-facing grants', () => {
    expect(
      dynamicRegistrationProblem(
        { scope: 'openid email', grant_types: ['authorization_code', 'refresh_token'] },
        ALLOWED,
      ),
    ).toBeUndefined()
    expect(dynamicRegistrationProblem({}, ALLOWED)).toBeUndefined()
  })
  it.each([
    [{ scope: 'openid admin' }, 'admin'],
    [{ scope: 'authz:check' }, 'authz:check'],
    [{ scope: 42 }, 'scope'],
    [{ grant_types: ['client_credentials'] }, 'client_credentials'],
    [{ grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'] }, 'token-exchange'],
    [{ resource_servers: ['https://api.example.com'] }, 'resource_servers'],
    [{ skip_consent: true }, 'skip_consent'],
    [{ require_pkce: false }, 'require_pkce'],
  ])('refuses %j', (metadata, named) => {
    expect(dynamicRegistrationProblem(metadata, ALLOWED)).toContain(named)
  })
})

describe('request_uris metadata', () => {
  it('takes https, and http on loopback only', () => {
    expect(requestUrisProblem(['https://rp.example.com/r', 'http://127.0.0.1:8080/r'])).toBeUndefined()
    expect(requestUrisProblem(['http://rp.example.com/r'])).toContain('https')
    expect(requestUrisProblem('https://rp.example.com/r')).toContain('array')
    expect(requestUrisProblem(['not a uri'])).toContain('absolute')
  })
})

describe('address and phone claims from user attributes', () => {
  it('maps the OIDC Core §5.1.1 members and drops the rest', () => {
    expect(
      addressAndPhoneClaims({
        address: { locality: 'Springfield', evil: { x: 1 }, country: 7 },
        phone_number: '+15555550100',
        phone_number_verified: true,
      }),
    ).toEqual({ address: { locality: 'Springfield' }, phone_number: '+15555550100', phone_number_verified: true })
    expect(addressAndPhoneClaims({ address: '1 Main St', phone_number_verified: true })).toEqual({
      address: { formatted: '1 Main St' },
      phone_number: undefined,
      phone_number_verified: undefined,
    })
    expect(addressAndPhoneClaims(undefined)).toEqual({
      address: undefined,
      phone_number: undefined,
      phone_number_verified: undefined,
    })
  })
})

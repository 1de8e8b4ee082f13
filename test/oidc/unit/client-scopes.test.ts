import { describe, expect, it } from 'vitest'
import { API_SCOPE_NAMES, MANAGEMENT_SCOPES } from '../../../src/oidc/api-resource.ts'
import { defaultClientScope, effectiveClientScope, withinClientScope } from '../../../src/oidc/client-scopes.ts'

/**
 * The effective scope of a client (issue 10 §1): without `scope`, the OpenID scopes only —
 * offline_access exactly when refresh tokens are among its grant types — for every combination
 * of grant types; with `scope`, exactly that.
 */
const GRANTS = [
  'authorization_code',
  'refresh_token',
  'client_credentials',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
]
const subsets = <T>(xs: T[]): T[][] => xs.reduce<T[][]>((acc, x) => [...acc, ...acc.map((s) => [...s, x])], [[]])

describe('client scopes', () => {
  it('a client without scope gets the OpenID scopes only, for every combination of grant types', () => {
    for (const grants of [undefined, ...subsets(GRANTS)]) {
      for (const scope of [undefined, '', '   ', null, 42]) {
        const metadata = { ...(grants ? { grant_types: grants } : {}), ...(scope !== undefined ? { scope } : {}) }
        const effective = effectiveClientScope(metadata).split(' ')
        const offline = (grants ?? []).includes('refresh_token')
        expect(effective.sort(), JSON.stringify(metadata)).toEqual(
          ['email', 'openid', 'profile', ...(offline ? ['offline_access'] : [])].sort(),
        )
        for (const s of [...API_SCOPE_NAMES, ...MANAGEMENT_SCOPES]) expect(effective).not.toContain(s)
      }
    }
    expect(defaultClientScope({})).toBe('openid profile email')
  })

  it('a client with scope gets exactly that, and it is the ceiling on what a resource offers', () => {
    expect(effectiveClientScope({ scope: 'orders:read  authz:check', grant_types: ['refresh_token'] })).toBe(
      'orders:read authz:check',
    )
    expect(withinClientScope([...API_SCOPE_NAMES], 'openid authz:check')).toEqual(['authz:check'])
    expect(withinClientScope([...API_SCOPE_NAMES], effectiveClientScope({}))).toEqual([])
    // Built-in clients (no metadata scope at all) are bounded elsewhere.
    expect(withinClientScope(['a', 'b'], undefined)).toEqual(['a', 'b'])
  })
})

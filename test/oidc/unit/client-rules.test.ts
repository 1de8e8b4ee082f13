import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { authMethodProblem, CLIENT_AUTH_ROUTES } from '../../../src/oidc/client-secrets.ts'
import { webOriginsOf, webOriginsProblem } from '../../../src/oidc/cors.ts'

/** The rules behind exact client authentication and registered CORS origins, as properties. */
describe('client authentication method', () => {
  const methods = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none']
  it('a secret is accepted only where the registered method puts it, on every client-authenticated endpoint', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...methods),
        fc.boolean(),
        fc.boolean(),
        fc.constantFrom(...CLIENT_AUTH_ROUTES),
        (method, basic, post, route) => {
          const problem = authMethodProblem(method, { basic, post }, route)
          const wrongPlace = (method === 'client_secret_basic' && post) || (method === 'client_secret_post' && basic)
          const publicIntrospection = route === 'introspection' && method === 'none'
          expect(Boolean(problem)).toBe(wrongPlace || publicIntrospection)
        },
      ),
    )
  })
})

describe('web origins', () => {
  const origin = fc.webUrl({ withQueryParameters: false, withFragments: false }).map((u) => new URL(u).origin)
  it('accepts exactly scheme://host[:port]; anything with a path, query or trailing slash is refused', () => {
    fc.assert(
      fc.property(origin, (o) => {
        expect(webOriginsProblem([o])).toBeUndefined()
      }),
    )
    fc.assert(
      fc.property(origin, fc.constantFrom('/', '/cb', '?x=1', '#f', '/a/b'), (o, tail) => {
        expect(webOriginsProblem([o + tail])).toMatch(/not an origin/)
      }),
    )
    for (const bad of ['null', '*', 'javascript:alert(1)', 'file:///etc/passwd', 'https://', 42, null])
      expect(webOriginsProblem([bad]), String(bad)).toBeDefined()
    expect(webOriginsProblem('https://a.example')).toBeDefined()
  })

  it('a public client gets its redirect URIs origins; a confidential client only what it lists', () => {
    fc.assert(
      fc.property(fc.array(fc.webUrl(), { minLength: 1, maxLength: 4 }), (uris) => {
        const expected = new Set(uris.map((u) => new URL(u).origin))
        expect(webOriginsOf({ token_endpoint_auth_method: 'none', redirect_uris: uris })).toEqual(expected)
        expect(webOriginsOf({ redirect_uris: uris })).toEqual(new Set())
        expect(webOriginsOf({ redirect_uris: uris, web_origins: ['https://x.example'] })).toEqual(
          new Set(['https://x.example']),
        )
      }),
    )
    // custom-scheme redirect URIs of native apps are no web origin
    expect(webOriginsOf({ token_endpoint_auth_method: 'none', redirect_uris: ['com.example.app:/cb'] })).toEqual(
      new Set(),
    )
  })
})

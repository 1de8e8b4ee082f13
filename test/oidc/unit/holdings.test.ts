import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { API_SCOPE_NAMES } from '../../../src/oidc/api-resource.ts'
import { API_SCOPE_ROLES, scopeHoldings, splitByHoldings } from '../../../src/oidc/holdings.ts'
import { MANAGEMENT_SCOPES } from '../../../src/oidc/api-resource.ts'
import { importDocument } from '../../../src/declarative/schema.ts'
import type { ResourceRow } from '../../../src/oidc/queries/resources.ts'

/**
 * The class of problem in issue 10 §1: authority nobody granted. Whatever the roles, resources
 * and requests, a user holds a scope only through a role named on it (or API_SCOPE_ROLES), and
 * consent grants only what is held.
 */

const API = 'https://portcullis.example.com/api'
const role: fc.Arbitrary<string> = fc.constantFrom(
  'admin',
  'clerk',
  'writer',
  'auditor',
  'audit:read',
  'apikeys:manage',
  'x',
)
const scopeName = fc.constantFrom('orders:read', 'orders:write', 'ledger:read', 'admin', 'audit:read')
const resourceRow = fc
  .record({
    indicator: fc.constantFrom('https://a.example.com', 'https://b.example.com', 'https://c.example.com'),
    scopes: fc.uniqueArray(scopeName, { maxLength: 5 }),
    roleSets: fc.array(fc.option(fc.uniqueArray(role, { maxLength: 3 }), { nil: undefined }), {
      minLength: 5,
      maxLength: 5,
    }),
  })
  .map(({ indicator, scopes, roleSets }): ResourceRow => ({
    indicator,
    accessTokenFormat: 'jwt',
    accessTokenTtl: 60,
    accessTokenSigningAlg: 'ES256',
    scopes,
    scopeDetails: Object.fromEntries(scopes.flatMap((s, i) => (roleSets[i] ? [[s, { roles: roleSets[i] }]] : []))),
  }))
const resources = fc.uniqueArray(resourceRow, { selector: (r) => r.indicator, maxLength: 3 })

describe('scope holdings', () => {
  it('a user holds a resource scope exactly when one of their roles is named on it, and API scopes only by API_SCOPE_ROLES', async () => {
    await fc.assert(
      fc.asyncProperty(resources, fc.uniqueArray(role, { maxLength: 4 }), async (rows, roles) => {
        const h = await scopeHoldings({ resources: { list: async () => rows }, apiIndicator: API })(roles)
        for (const r of rows) {
          for (const s of r.scopes) {
            const expected = (r.scopeDetails[s]?.roles ?? []).some((x) => roles.includes(x))
            expect(h.byResource.get(r.indicator)!.has(s)).toBe(expected)
          }
        }
        for (const s of API_SCOPE_NAMES)
          expect(h.byResource.get(API)!.has(s)).toBe(API_SCOPE_ROLES[s].some((x) => roles.includes(x)))
        // Nothing held by default: no roles, no scopes.
        if (!roles.length) expect(h.all.size).toBe(0)
      }),
    )
  })

  it('management scopes are held only through role admin or the role of the same name', () => {
    for (const s of MANAGEMENT_SCOPES) {
      const roles = API_SCOPE_ROLES[s as keyof typeof API_SCOPE_ROLES]
      expect([...roles].sort()).toEqual(s === 'admin' ? ['admin'] : ['admin', s].sort())
    }
  })

  it('consent splits every requested scope into held (granted) and not held (refused), never granting one not held', async () => {
    await fc.assert(
      fc.asyncProperty(
        resources,
        fc.uniqueArray(role, { maxLength: 4 }),
        fc.dictionary(
          fc.constantFrom('https://a.example.com', 'https://b.example.com', API, 'https://unknown.example.com'),
          fc.uniqueArray(scopeName, { minLength: 1, maxLength: 4 }),
        ),
        async (rows, roles, requested) => {
          const h = await scopeHoldings({ resources: { list: async () => rows }, apiIndicator: API })(roles)
          const { granted, refused } = splitByHoldings(requested, h)
          for (const [indicator, scopes] of granted)
            for (const s of scopes) expect(h.byResource.get(indicator)?.has(s)).toBe(true)
          for (const [indicator, scopes] of refused)
            for (const s of scopes) expect(h.byResource.get(indicator)?.has(s) ?? false).toBe(false)
          for (const [indicator, scopes] of Object.entries(requested)) {
            const back = [
              ...(granted.find(([i]) => i === indicator)?.[1] ?? []),
              ...(refused.find(([i]) => i === indicator)?.[1] ?? []),
            ]
            expect(back.sort()).toEqual([...scopes].sort())
          }
        },
      ),
    )
  })

  it('the import takes plain and object scopes alike and keeps roles and descriptions apart from the names', () => {
    const doc = importDocument.parse({
      resources: [
        {
          indicator: 'https://a.example.com',
          scopes: ['a:plain', { name: 'a:read', description: 'Read', roles: ['clerk', 'clerk'] }, { name: 'a:bare' }],
        },
      ],
    })
    expect(doc.resources[0]!.scopes).toEqual(['a:plain', 'a:read', 'a:bare'])
    expect(doc.resources[0]!.scope_details).toEqual({ 'a:read': { description: 'Read', roles: ['clerk'] } })
    for (const bad of [
      [{ name: 'a b' }],
      [{ name: 'x', roles: 'clerk' }],
      [{ name: 'x', extra: 1 }],
      ['x', { name: 'x' }],
      [42],
      [{ name: 'x', roles: [''] }],
    ]) {
      expect(
        importDocument.safeParse({ resources: [{ indicator: 'https://a.example.com', scopes: bad }] }).success,
        JSON.stringify(bad),
      ).toBe(false)
    }
    // Each problem names the scope entry and field at fault.
    const issues = importDocument.safeParse({
      resources: [
        {
          indicator: 'https://a.example.com',
          scopes: [{ name: 'x', rolez: [] }, { name: 'y', roles: 'clerk' }, 42, 'z', 'z'],
        },
      ],
    }).error!.issues
    expect(issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['resources.0.scopes.0', 'Unrecognized key: "rolez"'],
      ['resources.0.scopes.1.roles', 'Invalid input: expected array, received string'],
      ['resources.0.scopes.2', 'must be a scope name or { name, description, descriptions, roles }'],
    ])
  })
})

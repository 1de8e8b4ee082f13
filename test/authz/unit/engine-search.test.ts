import { describe, expect, it } from 'vitest'
import { createPolicyEngine, type PolicyEngine } from '../../../src/authz/engine/index.ts'
import { SHAPES, prng } from './random-stores.ts'

/**
 * The search candidates against brute force on the random stores of the differential test: for
 * each request and each request element, the candidates the engine allows must be exactly the
 * values of a wide universe (every name in the policy and the requests, and unknown ones) that
 * plain enforce() allows — roles left out where the element is passed to g(). A model the search
 * refuses must say why. (ABAC stores, whose requests are objects, are refused: see the last test.)
 */
const STORES_PER_SHAPE = 6
const REQUESTS_PER_STORE = 12

function bruteForce(engine: PolicyEngine, request: unknown[], index: number, universe: readonly string[]) {
  return universe.filter((v) => {
    const r = [...request]
    r[index] = v
    try {
      return engine.checkPlain(r).allowed
    } catch {
      return false
    }
  })
}

describe('search candidates against brute force', () => {
  it.each(
    SHAPES.filter((s) => !s.options?.accept_json_request && !s.name.startsWith('ABAC')).map(
      (s, i) => [s.name, s, i] as const,
    ),
  )('%s', async (_name, shape, shapeIndex) => {
    let listed = 0
    let refused = 0
    let exact = 0
    for (let s = 0; s < STORES_PER_SHAPE; s++) {
      const seed = 7000 + 100 * shapeIndex + s
      const rnd = prng(seed)
      const lines = shape.lines(rnd)
      const engine = await createPolicyEngine({ modelText: shape.model, policyLines: lines, options: shape.options })
      const requests = Array.from({ length: REQUESTS_PER_STORE }, () => shape.request(rnd)).filter((r) =>
        r.every((v) => typeof v === 'string'),
      ) as string[][]
      const names = new Set<string>(['', 'nobody', 'data99', 'root', 'admin', '*'])
      for (const l of lines) for (const v of l.slice(1)) names.add(v)
      for (const r of requests) for (const v of r) names.add(v)
      const tokens = engine.requestTokens
      for (const request of requests) {
        for (const [index, token] of tokens.entries()) {
          const space = engine.searchCandidates(token, request)
          if (space.kind === 'unsupported') {
            expect(space.reason, `seed ${seed}`).toMatch(/\w/)
            refused++
            continue
          }
          listed++
          const roleNames = new Set(lines.filter((l) => l[0]?.startsWith('g')).map((l) => l[2]!))
          // roles are left out only for an element the matcher passes to g()
          const passedToG = new RegExp(`g\\d*\\(\\s*r\\.${token}\\b`).test(shape.model)
          const universe = [...names].filter((v) => v !== '' && !(passedToG && roleNames.has(v))).sort()
          if (space.exact) {
            exact++
            expect(space.values, `seed ${seed}, exact search ${token} for ${JSON.stringify(request)}`).toEqual(
              bruteForce(engine, request, index, universe),
            )
            continue
          }
          const found = space.values.filter((v) => {
            const r = [...request]
            r[index] = v
            return engine.check(r).allowed
          })
          expect(found, `seed ${seed}, search ${token} for ${JSON.stringify(request)}`).toEqual(
            bruteForce(engine, request, index, universe),
          )
        }
      }
    }
    expect(listed + refused).toBeGreaterThan(0)
    if (['ACL', 'RBAC', 'RBAC with a role hierarchy of depth 3'].includes(shape.name)) expect(exact).toBeGreaterThan(0)
  })

  it('names why a model cannot be searched', async () => {
    const build = (m: string) =>
      createPolicyEngine({
        modelText: `[request_definition]\nr = sub, obj, act\n[policy_definition]\np = sub, obj, act\n[role_definition]\ng = _, _\n[policy_effect]\ne = some(where (p.eft == allow))\n[matchers]\nm = ${m}`,
        policyLines: [['p', 'a', 'b', 'c']],
      })
    const reason = async (m: string, token: string) => {
      const s = (await build(m)).searchCandidates(token, ['x', 'y', 'z'])
      return s.kind === 'unsupported' ? s.reason : 'listed'
    }
    expect(await reason('r.sub == p.sub && keyMatch2(r.obj, p.obj) && r.act == p.act', 'obj')).toMatch(
      /keyMatch2\(\) patterns/,
    )
    expect(await reason('r.sub == p.sub && keyMatch2(r.obj, p.obj) && r.act == p.act', 'sub')).toBe('listed')
    expect(await reason('r.sub.Owner == p.sub && r.obj == p.obj && r.act == p.act', 'sub')).toMatch(
      /attributes of r\.sub \(ABAC\)/,
    )
    expect(await reason('r.sub == p.sub && r.obj == p.obj && r.act == p.act || r.sub == "root"', 'obj')).toMatch(
      /whatever r\.obj is/,
    )
    expect(await reason('r.sub == p.sub && !(r.obj == p.obj) && r.act == p.act', 'obj')).toMatch(/negates/)
    expect(await reason('r.sub == p.sub && r.act == p.act', 'obj')).toMatch(/no policy field/)
    expect(await reason('r.sub != p.sub && r.obj == p.obj && r.act == p.act', 'sub')).toMatch(/cannot enumerate/)
  })
})

import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  PatternHazardError,
  createPolicyEngine,
  validateStore,
  type StoreInput,
  type StoreProblem,
} from '../../../src/authz/engine/index.ts'
import { cases, storeOf } from './conformance-cases.ts'

const POLICIES = path.resolve(import.meta.dirname, '../../../policies')
const shipped = (file: string) => fs.readFileSync(path.join(POLICIES, file), 'utf8')

const rbac = shipped('rbac.conf')
const model = (m: string, extra = '') => `[request_definition]
r = sub, obj, act

[policy_definition]
p = sub, obj, act
${extra}
[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = ${m}`
const keyMatchModel = (fn: string) => model(`r.sub == p.sub && ${fn}(r.obj, p.obj) && r.act == p.act`)

/**
 * Validates. A pathological input (catastrophic backtracking, an unbounded loop) would hang, which
 * the test timeout catches; no clock assertion here, because the machine may be loaded.
 */
function problems(input: StoreInput): Promise<StoreProblem[]> {
  return validateStore(input)
}

const kinds = (ps: StoreProblem[]) => ps.map((p) => p.kind)

describe('validateStore', () => {
  it('accepts every upstream conformance store and every shipped model', async () => {
    for (const m of Object.values(cases.models)) expect(await problems(storeOf(m)), m.id).toEqual([])
    for (const file of fs.readdirSync(POLICIES).filter((f) => f.endsWith('.conf'))) {
      expect(await problems({ modelText: shipped(file), policyLines: [] }), file).toEqual([])
    }
  })

  describe('refuses a model', () => {
    it.each([
      ['that is not a casbin model', 'hello'],
      [
        'without a matcher',
        '[request_definition]\nr = sub\n[policy_definition]\np = sub\n[policy_effect]\ne = some(where (p.eft == allow))',
      ],
      ['whose matcher does not parse', model('r.sub == p.sub &&')],
      ['whose matcher has a single & (casbin refuses it)', model('r.sub == p.sub & r.obj == p.obj')],
      ['whose matcher calls an unknown function', model('r.sub == p.sub && startsWith(r.obj, p.obj)')],
      [
        'with an effect casbin does not support',
        rbac.replace('some(where (p.eft == allow))', 'all(where (p.eft == allow))'),
      ],
      ['with a role definition of fewer than two _', model('g(r.sub, p.sub)', '[role_definition]\ng = _\n')],
    ])('%s', async (_what, modelText) => {
      const ps = await problems({ modelText, policyLines: [['p', 'a', 'b', 'c']] })
      expect(ps.length).toBeGreaterThan(0)
      expect(kinds(ps)).toContain('model')
    })
  })

  it('refuses a line whose arity does not match its definition, naming the line', async () => {
    const ps = await problems({
      modelText: rbac,
      policyLines: [
        ['p', 'alice', 'data1', 'read'],
        ['p', 'alice', 'data1'],
        ['g', 'alice', 'admin', 'extra'],
        ['p', 'a', 'b', 'c', 'd'],
      ],
    })
    expect(ps).toEqual([
      { kind: 'arity', message: 'line 2: p takes 3 values, the line has 2', line: 2 },
      { kind: 'arity', message: 'line 3: g takes 2 values, the line has 3', line: 3 },
      { kind: 'arity', message: 'line 4: p takes 3 values, the line has 4', line: 4 },
    ])
  })

  it('refuses a line of a policy type the model does not define', async () => {
    const ps = await problems({ modelText: rbac, policyLines: [['g2', 'a', 'b'], ['p2', 'a', 'b', 'c'], []] })
    expect(kinds(ps)).toEqual(['unknown_ptype', 'unknown_ptype', 'unknown_ptype'])
    expect(ps[0]!.message).toBe('line 1: the model defines no policy type "g2"')
    expect(ps[2]!.message).toBe('line 3: empty line')
  })

  describe('refuses patterns that would make node-casbin loop forever', () => {
    it.each([
      ['keyMatch2', '/:/all'],
      ['keyMatch2', '/users/:'],
      ['keyMatch2', '/:id/:'],
      ['keyMatch3', '/{id/using/{resId}'],
      ['keyMatch3', '/{'],
      ['keyMatch4', '/parent/{i/d}/child/{i/d}'],
      ['keyMatch5', '/{a/{b}'],
    ])('%s %s in a policy line', async (fn, pattern) => {
      const ps = await problems({
        modelText: keyMatchModel(fn),
        policyLines: [
          ['p', 'alice', '/ok', 'read'],
          ['p', 'alice', pattern, 'read'],
        ],
      })
      expect(ps).toHaveLength(1)
      expect(ps[0]).toMatchObject({ kind: 'hazardous_pattern', line: 2 })
      expect(ps[0]!.message).toContain('loop forever')
      expect(ps[0]!.message).toContain(JSON.stringify(pattern))
    })

    it('in a string literal of the matcher', async () => {
      const ps = await problems({
        modelText: model('r.sub == p.sub && keyMatch2(r.obj, "/:/all")'),
        policyLines: [['p', 'a', 'b', 'c']],
      })
      expect(ps).toEqual([
        expect.objectContaining({
          kind: 'hazardous_pattern',
          message: expect.stringMatching(/^matcher: keyMatch2 pattern "\/:\/all"/),
        }),
      ])
    })

    it('in role names under a pattern matching function', async () => {
      const modelText = model('g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act', '[role_definition]\ng = _, _\n')
      const ps = await problems({
        modelText,
        policyLines: [
          ['p', 'admin', 'd', 'read'],
          ['g', '/users/:', 'admin'],
        ],
        options: { named_matching_func: { g: 'keyMatch2' } },
      })
      expect(ps).toEqual([
        expect.objectContaining({
          kind: 'hazardous_pattern',
          line: 2,
          message: expect.stringContaining('named_matching_func'),
        }),
      ])
      // the same names are plain strings when no pattern function applies
      expect(
        await problems({
          modelText,
          policyLines: [
            ['p', 'admin', 'd', 'read'],
            ['g', '/users/:', 'admin'],
          ],
        }),
      ).toEqual([])
    })

    it('in domains under a domain matching function', async () => {
      const ps = await problems({
        modelText: shipped('rbac-with-domains.conf'),
        policyLines: [
          ['p', 'admin', 'tenant1', 'd', 'read'],
          ['g', 'alice', 'admin', '/t/{x'],
        ],
        options: { named_domain_matching_func: { g: 'keyMatch3' } },
      })
      expect(ps).toEqual([
        expect.objectContaining({
          kind: 'hazardous_pattern',
          line: 2,
          message: expect.stringContaining('named_domain_matching_func'),
        }),
      ])
    })

    it('in rules handed to eval()', async () => {
      const modelText = model('eval(p.sub) && r.obj == p.obj && r.act == p.act')
      const ps = await problems({
        modelText,
        policyLines: [
          ['p', 'keyMatch2(r.sub, "/:/x")', 'd', 'read'],
          ['p', 'r.sub ==', 'd', 'read'],
        ],
      })
      expect(kinds(ps)).toEqual(['hazardous_pattern', 'invalid_rule'])
    })
  })

  it('refuses regular expressions that do not compile or can backtrack without end, and over-long patterns', async () => {
    const regexModel = model('r.sub == p.sub && regexMatch(r.obj, p.obj) && r.act == p.act')
    const ps = await problems({
      modelText: regexModel,
      policyLines: [
        ['p', 'a', '(GET)|(POST)', 'x'],
        ['p', 'a', '(', 'x'],
        ['p', 'a', '^(a+)+$', 'x'],
        ['p', 'a', '(x*)*y', 'x'],
      ],
    })
    expect(ps.map((p) => p.line)).toEqual([2, 3, 4])
    expect(ps[0]!.message).toContain('not a valid regular expression')
    expect(ps[1]!.message).toContain('backtrack')
    const long = await problems({
      modelText: keyMatchModel('keyMatch2'),
      policyLines: [['p', 'a', `/${'a'.repeat(5000)}`, 'x']],
    })
    expect(long).toEqual([
      expect.objectContaining({ kind: 'hazardous_pattern', message: expect.stringContaining('longer than 4096') }),
    ])
  })

  it('stays fast on adversarial patterns at the length limit', async () => {
    const patterns = [
      '/:'.repeat(2048),
      `/${':a'.repeat(1364)}/:`,
      '/{'.repeat(2048),
      `/${'{a}'.repeat(1365)}`,
      `/{${'a'.repeat(4000)}`,
    ]
    const ps = await problems({
      modelText: keyMatchModel('keyMatch3'),
      policyLines: patterns.map((p) => ['p', 'a', p, 'x']),
    })
    expect(ps.length).toBeGreaterThan(0)
    const ps2 = await problems({
      modelText: keyMatchModel('keyMatch2'),
      policyLines: patterns.map((p) => ['p', 'a', p, 'x']),
    })
    expect(ps2.length).toBeGreaterThan(0)
  })

  it('refuses unknown options', async () => {
    const ps = await problems({
      modelText: rbac,
      policyLines: [],
      options: { named_matching_func: { g: 'keyMatch9', g3: 'keyMatch2' } },
    })
    expect(ps).toEqual([
      { kind: 'options', message: expect.stringContaining('unknown matching function keyMatch9') },
      { kind: 'options', message: 'named_matching_func.g3: the model has no role type g3' },
    ])
  })

  it('refuses a role graph whose checks would walk millions of paths', async () => {
    const roles = ['a', 'b', 'c', 'd', 'e']
    const dense = roles.flatMap((x) => roles.filter((y) => y !== x).map((y) => ['g', x, y]))
    const ps = await problems({ modelText: rbac, policyLines: [...dense, ['p', 'a', 'd', 'read']] })
    expect(ps).toEqual([{ kind: 'role_graph', message: expect.stringContaining('inheritance paths') }])
    // a cycle alone is fine
    expect(
      await problems({
        modelText: rbac,
        policyLines: [
          ['g', 'a', 'b'],
          ['g', 'b', 'a'],
          ['p', 'a', 'd', 'read'],
        ],
      }),
    ).toEqual([])
  })

  it('caps the list of problems', async () => {
    const ps = await problems({ modelText: rbac, policyLines: Array.from({ length: 500 }, () => ['p', 'x']) })
    expect(ps).toHaveLength(101)
    expect(ps[100]!.message).toBe('... and 400 more problems')
  })
})

describe('check-time guards', () => {
  it('refuse a hazardous pattern that arrives with the request instead of hanging', async () => {
    const modelText = model('r.sub == p.sub && keyMatch2(p.obj, r.obj) && r.act == p.act')
    const engine = await createPolicyEngine({ modelText, policyLines: [['p', 'alice', '/a/b', 'read']] })
    expect(engine.check(['alice', '/a/:id', 'read']).allowed).toBe(true)
    expect(() => engine.check(['alice', '/:/all', 'read'])).toThrow(PatternHazardError)
    expect(() => engine.checkPlain(['alice', '/:/all', 'read'])).toThrow(/loop forever/)
  })

  it('refuse a hazardous pattern stored without validation', async () => {
    const engine = await createPolicyEngine({
      modelText: keyMatchModel('keyMatch3'),
      policyLines: [['p', 'alice', '/{id/using/{resId}', 'read']],
    })
    expect(() => engine.check(['alice', '/myid/using/myresid', 'read'])).toThrow(PatternHazardError)
    expect(() => engine.checkPlain(['alice', '/myid/using/myresid', 'read'])).toThrow(PatternHazardError)
  })

  it('report a request of the wrong arity', async () => {
    const engine = await createPolicyEngine({ modelText: rbac, policyLines: [['p', 'a', 'b', 'c']] })
    expect(engine.requestProblems(['a', 'b'])).toEqual(['the request needs 3 elements (sub, obj, act), got 2'])
    expect(engine.requestProblems(['a', 'b', 'c'])).toEqual([])
    expect(() => engine.check(['a', 'b'])).toThrow(/invalid request size/)
  })
})

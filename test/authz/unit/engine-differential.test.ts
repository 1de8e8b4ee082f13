import { describe, expect, it } from 'vitest'
import { createPolicyEngine, type Decision, type PolicyEngine } from '../../../src/authz/engine/index.ts'
import { SHAPES, prng } from './random-stores.ts'

const STORES_PER_SHAPE = 25
const REQUESTS_PER_STORE = 160

type Outcome = { decision: Decision } | { error: string }

function outcome(f: () => Decision): Outcome {
  try {
    return { decision: f() }
  } catch (err) {
    return { error: (err as Error).message }
  }
}

/** Every request through the fast path and through plain enforce(): the mismatches, and how many plain allowed. */
function compare(engine: PolicyEngine, requests: unknown[][]) {
  const mismatches: { request: unknown[]; fast: Outcome; plain: Outcome }[] = []
  let allowed = 0
  for (const request of requests) {
    const fast = outcome(() => engine.check([...request]))
    const plain = outcome(() => engine.checkPlain([...request]))
    if (JSON.stringify(fast) !== JSON.stringify(plain)) mismatches.push({ request, fast, plain })
    if ('decision' in plain && plain.decision.allowed) allowed++
  }
  return { mismatches, allowed }
}

describe('fast path against plain enforce() on random stores', () => {
  it.each(SHAPES.map((s, i) => [s.name, s, i] as const))('%s', async (_name, shape, shapeIndex) => {
    let checked = 0
    let allowed = 0
    for (let s = 0; s < STORES_PER_SHAPE; s++) {
      const seed = 1000 * (shapeIndex + 1) + s
      const rnd = prng(seed)
      const engine = await createPolicyEngine({
        modelText: shape.model,
        policyLines: shape.lines(rnd),
        options: shape.options,
      })
      expect(engine.mode.kind, `seed ${seed}`).toBe('indexed')
      const requests = Array.from({ length: REQUESTS_PER_STORE }, () => shape.request(rnd))
      const result = compare(engine, requests)
      expect(result.mismatches, `seed ${seed}`).toEqual([])
      checked += requests.length
      allowed += result.allowed
    }
    expect(checked).toBe(STORES_PER_SHAPE * REQUESTS_PER_STORE)
    // the random stores must exercise both answers, or the comparison proves little
    expect(allowed).toBeGreaterThan(checked * 0.05)
    expect(allowed).toBeLessThan(checked * 0.95)
  })

  it('sends requests the index cannot key (numbers, objects) to enforce() with the same answers', async () => {
    const shape = SHAPES.find((s) => s.name === 'RBAC')!
    const rnd = prng(7)
    const engine = await createPolicyEngine({
      modelText: shape.model,
      policyLines: [...shape.lines(rnd), ['p', '1', 'data1', 'read'], ['g', '2', 'role1']],
    })
    const odd: unknown[][] = [
      [1, 'data1', 'read'],
      [2, 'data1', 'read'],
      ['u1', 1, 'read'],
      [{ id: 'u1' }, 'data1', 'read'],
      [null, 'data1', 'read'],
      [undefined, 'data1', 'read'],
      ['u1', 'data1'],
      ['u1', 'data1', 'read', 'extra'],
    ]
    expect(compare(engine, odd).mismatches).toEqual([])
  })
})

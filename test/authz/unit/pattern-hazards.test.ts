import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { patternHazard } from '../../../src/authz/engine/index.ts'
import { nestedQuantifier } from '../../../src/authz/engine/pattern-hazards.ts'
import { cases } from './conformance-cases.ts'
import { pick, prng } from './random-stores.ts'

const ROOT = path.resolve(import.meta.dirname, '../../..')
const LOOPING = ['keyMatch2', 'keyMatch3', 'keyMatch4', 'keyMatch5'] as const

/**
 * Runs casbin's real functions on the patterns in a separate process — the only safe way to call
 * them with a pattern that may loop — and reports whether it finished within the time limit.
 */
function casbinFinishes(calls: [fn: string, pattern: string][], timeoutMs: number): boolean {
  const script = `
    const { Util } = require('casbin')
    const calls = JSON.parse(process.argv[1])
    for (const [fn, pattern] of calls) {
      try { Util[fn + 'Func']('/a/b/c', pattern) } catch {}
    }`
  const run = spawnSync(process.execPath, ['-e', script, JSON.stringify(calls)], { cwd: ROOT, timeout: timeoutMs })
  return run.status === 0
}

const loops = (fn: string, pattern: string) => patternHazard(fn, pattern)?.includes('loop forever') ?? false

describe('pattern hazards', () => {
  it('flags exactly the upstream vectors that hang node-casbin 5.51.1', () => {
    for (const [fn, vectors] of Object.entries(cases.function_vectors)) {
      for (const v of vectors) {
        const hangs = v.node_casbin_5_51_1 === 'hang (>5s)'
        expect(loops(fn, v.args[1]), `${fn}(${v.args.join(', ')})`).toBe(hangs)
        if (!hangs) expect(patternHazard(fn, v.args[1]), `${fn}(${v.args.join(', ')})`).toBeNull()
      }
    }
  })

  it('agrees with casbin on random patterns: the safe ones finish, the flagged ones never do', () => {
    const rnd = prng(99)
    const alphabet = ['/', '/', ':', '{', '}', 'a', 'b', '*']
    const safe: [string, string][] = []
    const flagged: [string, string][] = []
    for (let i = 0; i < 4000; i++) {
      const pattern = Array.from({ length: 1 + Math.floor(rnd() * 9) }, () => pick(rnd, alphabet)).join('')
      const fn = pick(rnd, LOOPING)
      if (loops(fn, pattern)) flagged.push([fn, pattern])
      else safe.push([fn, pattern])
    }
    expect(safe.length).toBeGreaterThan(1000)
    expect(flagged.length).toBeGreaterThan(100)
    expect(casbinFinishes(safe, 20_000)).toBe(true)
    for (const call of flagged.slice(0, 6)) expect(casbinFinishes([call], 400), JSON.stringify(call)).toBe(false)
  }, 60_000)

  it('recognises nested quantifiers and nothing else', () => {
    for (const bad of ['(a+)+', '^(a*)*$', '(x+y)+', '((ab)+)*', '(a+){2,}', '(?:a|b+)*', '(a[+]b+)+'])
      expect(nestedQuantifier(bad), bad).toBe(true)
    for (const ok of [
      '(GET)|(POST)',
      '^/foo/[^/]+$',
      '(.*)',
      '(a)+',
      '[(a+)]+',
      '\\(a+\\)+',
      '^/a/([^/]+)/b$',
      '(a{2})+',
      'a+b*',
    ]) {
      expect(nestedQuantifier(ok), ok).toBe(false)
    }
  })
})

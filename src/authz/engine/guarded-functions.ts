import { CHECKED_FUNCTIONS, patternHazard } from './pattern-hazards.ts'
import type { MatchFn } from './casbin-internals.ts'

/** A check refused because a matcher function was handed a pattern that would hang or throw. */
export class PatternHazardError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PatternHazardError'
  }
}

// Validation keeps hazardous patterns out of stored policy, but a pattern can also reach a
// function at check time — from the request (keyMatch2(p.obj, r.obj)), from an eval() rule or
// from a computed argument. Every call is therefore checked; the verdict per pattern is cached
// because policy patterns repeat on every request.
const MAX_CACHED = 10_000
const verdicts = new Map<string, string | null>()

function hazard(fn: string, pattern: string): string | null {
  const key = `${fn}\u0000${pattern}`
  let verdict = verdicts.get(key)
  if (verdict === undefined) {
    verdict = patternHazard(fn, pattern)
    if (verdicts.size >= MAX_CACHED) verdicts.clear()
    verdicts.set(key, verdict)
  }
  return verdict
}

/** `impl` (a casbin function called as name(value, pattern)) refusing hazardous patterns. */
export function guardedFunction(name: string, impl: MatchFn): MatchFn {
  if (!CHECKED_FUNCTIONS.has(name)) return impl
  return (...args: unknown[]) => {
    // casbin's wrappers read their arguments as (arg || '').toString(); so does the guard
    const pattern = ((args[1] || '') as { toString(): string }).toString()
    const problem = hazard(name, pattern)
    if (problem) throw new PatternHazardError(problem)
    return impl(...args)
  }
}

/** Replaces, in place, every checked function of an enforcer's function map by its guard. */
export function guardFunctionMap(functions: Map<string, MatchFn>): void {
  for (const [name, fn] of functions) functions.set(name, guardedFunction(name, fn))
}

import { Util, type MatchFn } from './casbin-internals.ts'
import { guardedFunction } from './guarded-functions.ts'

/**
 * The functions a store may name in `named_matching_func` / `named_domain_matching_func`
 * (pattern matching inside role names and domains), as casbin's Util exports them.
 */
const BUILTIN: Record<string, MatchFn> = {
  keyMatch: Util.keyMatchFunc,
  keyMatch2: Util.keyMatch2Func,
  keyMatch3: Util.keyMatch3Func,
  keyMatch4: Util.keyMatch4Func,
  keyMatch5: Util.keyMatch5Func,
  regexMatch: Util.regexMatchFunc,
  globMatch: Util.globMatch as MatchFn,
}

export const MATCHING_FUNCTION_NAMES: readonly string[] = Object.keys(BUILTIN)

/** The named function, guarded against hazardous patterns; undefined for an unknown name. */
export function matchingFunction(name: string): MatchFn | undefined {
  const fn = Object.hasOwn(BUILTIN, name) ? BUILTIN[name] : undefined
  return fn && guardedFunction(name, fn)
}

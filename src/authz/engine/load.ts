import {
  functionMap,
  newEnforcer,
  newModelFromString,
  type Adapter,
  type Enforcer,
  type Model,
} from './casbin-internals.ts'
import { guardFunctionMap } from './guarded-functions.ts'
import { matchingFunction } from './matching-functions.ts'
import type { StoreInput } from './types.ts'

/**
 * Hands casbin the policy as lines, the way its CSV loader would after parsing: each line goes
 * to the assertion named by its ptype, lines of unknown ptypes are skipped (validation reports
 * them). Values are copied so that callers cannot change a built engine's policy underneath it.
 */
function lineAdapter(lines: StoreInput['policyLines']): Adapter {
  const readOnly = () => Promise.reject(new Error('the engine policy is read-only; build a new engine'))
  return {
    async loadPolicy(model: Model) {
      for (const [ptype, ...values] of lines) {
        if (!ptype) continue
        model.model
          .get(ptype.slice(0, 1))
          ?.get(ptype)
          ?.policy.push([...values])
      }
    },
    savePolicy: readOnly,
    addPolicy: readOnly,
    removePolicy: readOnly,
    removeFilteredPolicy: readOnly,
  }
}

/**
 * A casbin enforcer for a store: the model parsed, the policy loaded (sorted by priority where
 * the model says so) and role links built, with hazardous-pattern guards on every pattern
 * function and the store's options applied as the upstream cases' `setup` describes them.
 * Throws casbin's error when the model or options are unusable.
 */
export async function loadEnforcer(input: StoreInput): Promise<Enforcer> {
  const model = newModelFromString(input.modelText)
  const e = await newEnforcer(model, lineAdapter(input.policyLines))
  guardFunctionMap(functionMap(e))
  const options = input.options ?? {}
  for (const [ptype, name] of Object.entries(options.named_matching_func ?? {})) {
    const fn = matchingFunction(name)
    if (!fn) throw new Error(`named_matching_func.${ptype}: unknown matching function ${name}`)
    await e.addNamedMatchingFunc(ptype, fn as (a: string, b: string) => boolean)
  }
  for (const [ptype, name] of Object.entries(options.named_domain_matching_func ?? {})) {
    const fn = matchingFunction(name)
    if (!fn) throw new Error(`named_domain_matching_func.${ptype}: unknown matching function ${name}`)
    await e.addNamedDomainMatchingFunc(ptype, fn as (a: string, b: string) => boolean)
  }
  if (options.accept_json_request) e.enableAcceptJsonRequest(true)
  await e.buildRoleLinks()
  return e
}

import {
  SUPPORTED_EFFECTS,
  acceptsJsonRequests,
  assertion,
  compileMatcher,
  evaluateNode,
  functionMap,
  gFunction,
  hasEval,
  roleManagerView,
  sectionKeys,
  type Enforcer,
  type ExprNode,
  type MatchFn,
  type RoleManagerView,
} from './casbin-internals.ts'
import { evaluateCandidates, type CandidateEvaluation } from './evaluate.ts'
import { buildLineIndex } from './line-index.ts'
import { analyseMatcher, type IndexPlan, type RequestValue } from './matcher-analysis.ts'
import { roleClosure } from './role-closure.ts'
import type { Decision } from './types.ts'

export interface FastPath {
  /** the decision, or undefined when this request must go to plain enforce() */
  check(request: readonly unknown[]): Decision | undefined
  readonly description: string
}

export type FastPathBuild = { kind: 'indexed'; path: FastPath } | { kind: 'plain'; reason: string }

// as enforce() does with acceptJsonRequest: JSON text becomes the value it encodes
function parseJsonArg(v: unknown): unknown {
  try {
    return JSON.parse(v as string)
  } catch {
    return v
  }
}

const UNREADABLE = Symbol('unreadable')

/** A request value the index keys on, or UNREADABLE when reading it throws. */
function readRequestValue(node: RequestValue, params: Record<string, unknown>): unknown {
  if (node.type === 'Identifier') return params[node.name]
  try {
    return evaluateNode(node, params)
  } catch {
    return UNREADABLE
  }
}

/**
 * Whether a request-only alternative of the matcher holds (every line then matches) or cannot be
 * evaluated; either way enforce() must answer. When none holds, the matcher is its indexed part.
 */
function guardHolds(guards: readonly ExprNode[], context: Record<string, unknown>): boolean {
  try {
    return guards.some((g) => evaluateNode(g, context))
  } catch {
    return true
  }
}

/**
 * Builds the indexed evaluation for a loaded enforcer, or says why its model must be answered by
 * plain enforce(). Built once per engine; the enforcer must not change afterwards.
 */
export function buildFastPath(e: Enforcer): FastPathBuild {
  const model = e.getModel()
  const p = assertion(model, 'p', 'p')
  const rTokens = assertion(model, 'r', 'r')?.tokens ?? []
  const matcher = assertion(model, 'm', 'm')?.value
  const effect = assertion(model, 'e', 'e')?.value
  if (!p || !matcher || !effect) return { kind: 'plain', reason: 'the model lacks a p, m or e definition' }
  // enforce() takes another branch (one evaluation, no policy) for these; leave them to it
  if (!p.policy.length) return { kind: 'plain', reason: 'the policy has no p lines' }
  if (!matcher.includes('p_')) return { kind: 'plain', reason: 'the matcher reads no policy field' }
  if (hasEval(matcher)) return { kind: 'plain', reason: 'the matcher uses eval(), so it changes per line' }
  if (!SUPPORTED_EFFECTS.has(effect)) return { kind: 'plain', reason: `unsupported effect ${effect}` }

  const roleManagers = new Map<string, unknown>()
  const walkable = new Map<string, RoleManagerView>()
  for (const g of sectionKeys(model, 'g')) {
    const rm = assertion(model, 'g', g)!.rm
    roleManagers.set(g, rm)
    const view = roleManagerView(rm)
    if (view) walkable.set(g, view)
  }

  const analysis = analyseMatcher({
    matcher,
    rTokens,
    pTokens: p.tokens,
    roleTypes: new Set(roleManagers.keys()),
    walkableRoleTypes: new Set(walkable.keys()),
  })
  if (analysis.kind === 'plain') return analysis
  const plan: IndexPlan = analysis.plan

  const index = buildLineIndex(p.policy, plan)
  const evaluation: CandidateEvaluation = {
    expression: compileMatcher(e, matcher),
    policy: p.policy,
    pTokens: p.tokens,
    effect,
  }
  const staticFunctions: Record<string, MatchFn> = Object.fromEntries(functionMap(e))
  const acceptJson = acceptsJsonRequests(e)
  const roleViews = plan.roles.map((k) => walkable.get(k.g)!)

  // fresh g() functions per request, as enforce() makes them (they memoise per call)
  function requestFunctions(): Record<string, unknown> {
    const functions: Record<string, unknown> = { ...staticFunctions }
    for (const [g, rm] of roleManagers) functions[g] = gFunction(rm)
    return functions
  }

  function check(request: readonly unknown[]): Decision | undefined {
    // a wrong arity is casbin's error to raise, with its message
    if (request.length !== rTokens.length) return undefined
    const values = acceptJson ? request.map(parseJsonArg) : request
    const requestParams: Record<string, unknown> = {}
    for (let j = 0; j < rTokens.length; j++) requestParams[rTokens[j]!] = values[j]

    // the index compares strings; anything else (numbers compare loosely with ==), or a value
    // that cannot be read, goes to enforce()
    const equalityValues: string[] = []
    for (const k of plan.equalities) {
      const v = readRequestValue(k.request, requestParams)
      if (typeof v !== 'string') return undefined
      equalityValues.push(v)
    }
    const roleInputs: { user: string; domain?: string }[] = []
    for (const k of plan.roles) {
      const user = readRequestValue(k.user, requestParams)
      const domain = k.domain ? readRequestValue(k.domain, requestParams) : undefined
      if (typeof user !== 'string' || (k.domain && typeof domain !== 'string')) return undefined
      roleInputs.push({ user, domain: domain as string | undefined })
    }

    let functions = plan.guards.length ? requestFunctions() : undefined
    if (functions && guardHolds(plan.guards, { ...requestParams, ...functions })) return undefined

    // roles are resolved only when some line has the request's equality values
    const candidates = index.candidates(equalityValues, () =>
      roleInputs.map((r, i) => roleClosure(roleViews[i]!, r.user || '', r.domain)),
    )
    if (!candidates.length) return evaluateCandidates(evaluation, requestParams, staticFunctions, candidates)
    functions ??= requestFunctions()
    return evaluateCandidates(evaluation, requestParams, functions, candidates)
  }

  return {
    kind: 'indexed',
    path: { check, description: `${plan.description} (${index.buckets} buckets over ${p.policy.length} lines)` },
  }
}

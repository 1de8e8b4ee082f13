import { assertion } from './casbin-internals.ts'
import { buildFastPath } from './fast-path.ts'
import { loadEnforcer } from './load.ts'
import { searchPlan, type SearchPlan } from './search-space.ts'
import type { Decision, EvaluationMode, PolicyEngine, StoreInput } from './types.ts'

/**
 * A decision engine for one immutable version of a store. `check` answers through the line index
 * when the model allows it and through casbin's enforceExSync otherwise — the same answers either
 * way (the conformance and differential tests hold it to that). Build a new engine for every
 * policy version; validate the input with validateStore first, since building does not check
 * arities or patterns.
 */
export async function createPolicyEngine(input: StoreInput): Promise<PolicyEngine> {
  const e = await loadEnforcer(input)
  const requestTokens = (assertion(e.getModel(), 'r', 'r')?.tokens ?? []).map((t) => t.replace(/^r_/, ''))

  const checkPlain = (request: unknown[]): Decision => {
    const [allowed, matched] = e.enforceExSync(...request)
    return { allowed, matched: [...matched] }
  }

  const fast = buildFastPath(e)
  const mode: EvaluationMode = fast.kind === 'indexed' ? { kind: 'indexed', description: fast.path.description } : fast
  const check =
    fast.kind === 'indexed'
      ? (request: unknown[]): Decision => fast.path.check(request) ?? checkPlain(request)
      : checkPlain

  // the policy never changes under a built engine, so each token's search plan is made once
  const plans = new Map<string, SearchPlan>()
  const plan = (token: string) => {
    let s = plans.get(token)
    if (!s) plans.set(token, (s = searchPlan(e, token, input.options)))
    return s
  }

  return {
    check,
    searchCandidates: (token, request) => plan(token).candidates(request),
    checkPlain,
    requestProblems(request) {
      return request.length === requestTokens.length
        ? []
        : [`the request needs ${requestTokens.length} elements (${requestTokens.join(', ')}), got ${request.length}`]
    },
    // casbin returns its own policy arrays here; copies keep the engine's policy immutable
    implicitPermissions: async (subject, domain) =>
      (
        await (domain === undefined
          ? e.getImplicitPermissionsForUser(subject)
          : e.getImplicitPermissionsForUser(subject, domain))
      ).map((l) => [...l]),
    usersForRole: (role, domain) =>
      domain === undefined ? e.getImplicitUsersForRole(role) : e.getImplicitUsersForRole(role, domain),
    mode,
    requestTokens,
  }
}

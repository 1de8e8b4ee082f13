import { Effect, newEffectStream, type CompiledExpression } from './casbin-internals.ts'
import type { Decision } from './types.ts'

export interface CandidateEvaluation {
  /** casbin's compiled matcher */
  expression: CompiledExpression
  policy: readonly (readonly string[])[]
  /** p tokens: p_sub, p_obj, ... */
  pTokens: readonly string[]
  /** the effect expression as casbin stores it: some(where (p_eft == allow)), ... */
  effect: string
}

/** casbin's reading of a matcher result (CoreEnforcer.privateEnforce, node-casbin 5.51.1). */
function effectOf(result: unknown, eft: unknown): Effect {
  let eftRes: Effect
  switch (typeof result) {
    case 'boolean':
      eftRes = result ? Effect.Allow : Effect.Indeterminate
      break
    case 'number':
      eftRes = result === 0 ? Effect.Indeterminate : (result as Effect)
      break
    case 'string':
      eftRes = result === '' ? Effect.Indeterminate : Effect.Allow
      break
    default:
      throw new Error('matcher result should only be of type boolean, number, or string')
  }
  if (eft && eftRes === Effect.Allow) {
    eftRes = eft === 'allow' ? Effect.Allow : eft === 'deny' ? Effect.Deny : Effect.Indeterminate
  }
  return eftRes
}

/**
 * casbin's enforce loop over the candidate lines only, in policy order: the same context per
 * line (request values, line values, functions), the same matcher, the same effect stream, the
 * same "explain" line. Lines the index ruled out are lines on which the matcher is false, which
 * casbin records as Indeterminate; one Indeterminate is pushed for them first. That changes no
 * effect except `!some(where (p.eft == deny))`, which becomes true once any line is seen — as it
 * does in enforce() whenever the policy has a line.
 */
export function evaluateCandidates(
  ev: CandidateEvaluation,
  requestParams: Readonly<Record<string, unknown>>,
  functions: Readonly<Record<string, unknown>>,
  candidates: readonly number[],
): Decision {
  const stream = newEffectStream(ev.effect)
  stream.pushEffect(Effect.Indeterminate)
  let explain = -1
  for (const i of candidates) {
    const line = ev.policy[i]!
    const parameters: Record<string, unknown> = { ...requestParams }
    for (let j = 0; j < ev.pTokens.length; j++) parameters[ev.pTokens[j]!] = line[j]
    const result = ev.expression({ ...parameters, ...functions })
    const [, record, done] = stream.pushEffect(effectOf(result, parameters.p_eft))
    if (record) explain = i
    if (done) break
  }
  return { allowed: stream.current(), matched: explain === -1 ? [] : [...ev.policy[explain]!] }
}

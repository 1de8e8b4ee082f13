import { z } from 'zod'

/**
 * The answers of the policy decision point, defined once: what the engine decides, the native
 * check's answer (`/authz/v1/check`) and the AuthZEN decision (`/access/v1/evaluation(s)`,
 * AuthZEN Authorization API 1.0 §6.2). Routes, the decider, the engine and its port import these.
 */

/** The engine's decision for one request tuple. */
export interface Decision {
  allowed: boolean
  /** the policy line (values, without the ptype) that decided, as casbin's enforceEx reports it; [] when none */
  matched: string[]
}

/** The native check's answer: the decision, the store version it was made at and the deciding line. */
export const checkResult = z.object({
  allowed: z.boolean(),
  version: z.number().int(),
  matched: z.array(z.unknown()).describe('the policy line(s) that decided'),
})
export type CheckResult = z.infer<typeof checkResult>

/** An AuthZEN decision: `decision` true permits; `context` says where it came from or why not. */
export const authzenDecision = z.object({
  decision: z.boolean(),
  context: z.record(z.string(), z.unknown()).optional(),
})
export type AuthzenDecision = z.infer<typeof authzenDecision>

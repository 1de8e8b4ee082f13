/** Options of a store, with the meaning of the upstream Casbin cases' `setup` keys. */
export interface EngineOptions {
  /** pattern matching inside role names, per role type: {"g": "keyMatch2"} */
  named_matching_func?: Record<string, string>
  /** pattern matching inside domains, per role type */
  named_domain_matching_func?: Record<string, string>
  /** request elements that are JSON strings are parsed (as casbin's enableAcceptJsonRequest) */
  accept_json_request?: boolean
}

/** A model and its policy: each line is [ptype, ...values], e.g. ['p', 'alice', 'data1', 'read']. */
export interface StoreInput {
  modelText: string
  policyLines: readonly (readonly string[])[]
  options?: EngineOptions
}

// The engine's decision is defined once with the PDP's other answers (authz/decisions.ts).
import type { Decision } from '../decisions.ts'
export type { Decision }

/**
 * The values a request element can take that the policy names (sorted, roles left out), for the
 * AuthZEN search APIs; or why the model's values cannot be listed.
 */
export type SearchSpace =
  /** `exact`: every value is allowed (the filters are the whole matcher); else each needs a check */
  { kind: 'listed'; values: readonly string[]; exact: boolean } | { kind: 'unsupported'; reason: string }

/** How the engine answers: through the index, or by plain enforce() and why. */
export type EvaluationMode = { kind: 'indexed'; description: string } | { kind: 'plain'; reason: string }

export interface PolicyEngine {
  /** The decision, through the index when the model allows it; identical to checkPlain. */
  check(request: unknown[]): Decision
  /** casbin's own enforceExSync, walking every line (baseline for benchmarks and tests). */
  checkPlain(request: unknown[]): Decision
  /** Problems with a request before it is checked (today: its arity). */
  requestProblems(request: unknown[]): string[]
  /** Permissions of a subject directly and through its roles (casbin's getImplicitPermissionsForUser). */
  implicitPermissions(subject: string, domain?: string): Promise<string[][]>
  /** Users holding a role directly or through other roles (casbin's getImplicitUsersForRole). */
  usersForRole(role: string, domain?: string): Promise<string[]>
  /**
   * Candidate values of request token `token` (e.g. 'sub') for a request whose other elements
   * are `request` (the searched position is ignored): a superset of the values the engine allows.
   */
  searchCandidates(token: string, request: readonly unknown[]): SearchSpace
  readonly mode: EvaluationMode
  /** the request tokens of the model, e.g. ['sub', 'obj', 'act'] */
  readonly requestTokens: readonly string[]
}

export type ProblemKind =
  'options' | 'model' | 'unknown_ptype' | 'arity' | 'hazardous_pattern' | 'invalid_rule' | 'role_graph'

export interface StoreProblem {
  kind: ProblemKind
  message: string
  /** 1-based index into policyLines, for problems of one line */
  line?: number
}

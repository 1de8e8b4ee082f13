import type { PolicyLine } from './policy-csv.ts'
import type { StoreOptions } from './options.ts'

/** What the store layer needs from the Casbin engine (src/authz/engine): nothing more. */
export interface PolicyInput {
  modelText: string
  lines: PolicyLine[]
  options: StoreOptions
}

import type { Decision } from './decisions.ts'
export type { Decision }

export interface DecisionEngine {
  check(request: unknown[]): Decision
  /** through the line index, or plain enforce() and why */
  readonly mode?: { kind: 'indexed'; description: string } | { kind: 'plain'; reason: string }
  implicitPermissions(subject: string, domain?: string): Promise<string[][]>
  usersForRole(role: string, domain?: string): Promise<string[]>
  /** candidate values of one request element for the AuthZEN search APIs, or why there are none */
  searchCandidates(
    token: string,
    request: readonly unknown[],
  ): { kind: 'listed'; values: readonly string[]; exact: boolean } | { kind: 'unsupported'; reason: string }
}

export interface EnginePort {
  /** every problem with a model + policy + options; empty when it can be committed */
  validate(input: PolicyInput): Promise<string[]>
  build(input: PolicyInput): Promise<DecisionEngine>
}

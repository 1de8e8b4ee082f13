/**
 * The policy engine: the only place portcullis uses casbin. A typed facade over node-casbin
 * 5.51.1 with an indexed fast path in front of enforce() and validation of stores before they
 * are committed.
 */
export { createPolicyEngine } from './engine.ts'
export { validateStore } from './validate.ts'
export { PatternHazardError } from './guarded-functions.ts'
export { patternHazard, MAX_PATTERN_LENGTH } from './pattern-hazards.ts'
export { MATCHING_FUNCTION_NAMES } from './matching-functions.ts'
export type {
  Decision,
  EngineOptions,
  EvaluationMode,
  PolicyEngine,
  ProblemKind,
  SearchSpace,
  StoreInput,
  StoreProblem,
} from './types.ts'

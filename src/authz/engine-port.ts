import { createPolicyEngine, validateStore } from './engine/index.ts'
import type { PolicyEngine } from './engine/index.ts'
import type { EnginePort, PolicyInput } from './port.ts'

/**
 * The store layer's facade over the indexed engine (src/authz/engine): validation names every
 * problem (model, arity, hazardous pattern, options) before a version is committed, and built
 * engines answer through the line index with node-casbin semantics.
 */
function toStoreInput(input: PolicyInput) {
  return {
    modelText: input.modelText,
    policyLines: input.lines,
    options: {
      named_matching_func: input.options.named_matching_func,
      named_domain_matching_func: input.options.named_domain_matching_func,
      accept_json_request: input.options.accept_json_request,
    },
  }
}

export const enginePort = {
  async validate(input: PolicyInput): Promise<string[]> {
    const problems = await validateStore(toStoreInput(input))
    // messages already name the line they are about
    return problems.map((p) => p.message)
  },
  /** the full engine; it also keeps casbin's plain enforce as `checkPlain` (benchmarks compare the two) */
  build: (input: PolicyInput): Promise<PolicyEngine> => createPolicyEngine(toStoreInput(input)),
} satisfies EnginePort

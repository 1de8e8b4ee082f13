import { newEnforcer, newModelFromString, StringAdapter, Util, type Enforcer } from 'casbin'
import type { DecisionEngine, EnginePort, PolicyInput } from './port.ts'
import { formatPolicyCsv } from './policy-csv.ts'

// TEMPORARY plain-enforce port while the indexed engine (src/authz/engine) lands.
async function enforcer(input: PolicyInput): Promise<Enforcer> {
  const model = newModelFromString(input.modelText)
  const e = input.lines.length ? await newEnforcer(model, new StringAdapter(formatPolicyCsv(input.lines))) : await newEnforcer(model)
  const fns = Util as unknown as Record<string, (a: string, b: string) => boolean>
  for (const [ptype, fn] of Object.entries(input.options.named_matching_func ?? {})) await e.addNamedMatchingFunc(ptype, fns[`${fn}Func`] ?? fns[fn]!)
  for (const [ptype, fn] of Object.entries(input.options.named_domain_matching_func ?? {})) await e.addNamedDomainMatchingFunc(ptype, fns[`${fn}Func`] ?? fns[fn]!)
  if (input.options.accept_json_request) e.enableAcceptJsonRequest(true)
  await e.buildRoleLinks()
  return e
}

export const casbinPort: EnginePort = {
  async validate(input) {
    try {
      await enforcer(input)
      return []
    } catch (err) {
      return [(err as Error).message]
    }
  },
  async build(input): Promise<DecisionEngine> {
    const e = await enforcer(input)
    return {
      check(request) {
        const [allowed, matched] = e.enforceExSync(...request)
        return { allowed, matched }
      },
      implicitPermissions: (subject, domain) => (domain ? e.getImplicitPermissionsForUser(subject, domain) : e.getImplicitPermissionsForUser(subject)),
      usersForRole: (role, domain) => (domain ? e.getImplicitUsersForRole(role, domain) : e.getImplicitUsersForRole(role)),
    }
  },
}

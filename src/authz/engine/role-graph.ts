/**
 * casbin's Role.hasRole searches inheritance depth first with no memory of visited roles, up to
 * 10 links deep, so a negative answer walks every path: cycles or dense inheritance (each of a
 * few roles inheriting all the others) make one g() call take 4^10 or more steps, and enforce()
 * makes such a call per policy line. This counts those paths from every role without walking
 * them (dynamic programming over depth), so a store that would stall checks can be refused.
 */
export const MAX_ROLE_PATHS = 100_000

export interface RoleGraphProblem {
  name: string
  domain?: string
  paths: number
}

/**
 * The first name whose depth-first search would visit more than MAX_ROLE_PATHS paths, for role
 * links `[user, role, domain?]` (one graph per domain, as casbin keeps them).
 */
export function explosiveRole(links: readonly (readonly string[])[], maxDepth = 10): RoleGraphProblem | undefined {
  const graphs = new Map<string | undefined, Map<string, Set<string>>>()
  for (const [user, role, domain] of links) {
    if (user === undefined || role === undefined) continue
    let graph = graphs.get(domain)
    if (!graph) graphs.set(domain, (graph = new Map()))
    let parents = graph.get(user)
    if (!parents) graph.set(user, (parents = new Set()))
    parents.add(role)
  }
  for (const [domain, graph] of graphs) {
    // paths[d] of a name: how many nodes a search from it with d levels left visits
    let paths = new Map<string, number>()
    for (const name of graph.keys()) paths.set(name, 1)
    for (let depth = 1; depth <= maxDepth; depth++) {
      const next = new Map<string, number>()
      for (const [name, parents] of graph) {
        let total = 1
        for (const parent of parents) total += paths.get(parent) ?? 1
        next.set(name, Math.min(total, MAX_ROLE_PATHS + 1))
      }
      paths = next
    }
    for (const [name, count] of paths) {
      if (count > MAX_ROLE_PATHS) return { name, domain, paths: count }
    }
  }
  return undefined
}

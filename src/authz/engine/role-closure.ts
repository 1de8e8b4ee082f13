import { DEFAULT_DOMAIN, type RoleManagerView, type RoleNode } from './casbin-internals.ts'

/**
 * Every name `name` is linked to through casbin's role manager: itself and the roles it inherits
 * within the manager's hierarchy limit — exactly the second arguments for which
 * `g(name, x[, domain])` can be true. Resolved once per request so that policy lines can be
 * looked up by role instead of calling g() on each of them.
 *
 * It mirrors DefaultRoleManager.syncedHasLink: the plain role graph of the domain when no
 * pattern functions are set, otherwise the temporary graph casbin builds per query (pattern
 * roles and matching domains merged in). The graph is only read — never extended with the
 * request's name, which would let distinct requests grow it without bound.
 */
export function roleClosure(rm: RoleManagerView, name: string, domain: string = DEFAULT_DOMAIN): Set<string> {
  const names = new Set([name])
  let start: RoleNode | undefined
  if (!rm.hasPattern && !rm.hasDomainPattern && !rm.hasDomainHierarchy) {
    start = rm.allDomains.get(domain)?.get(name)
  } else {
    const temp = rm.generateTempRoles(domain)
    if (temp.hasRole(name, rm.matchingFunc)) start = temp.createRole(name, rm.matchingFunc)
  }
  if (!start) return names
  // breadth first, so a role is found at its shortest distance: Role.hasRole accepts a role
  // found at most maxHierarchyLevel links away on any path
  let frontier = [start]
  for (let depth = 0; depth < rm.maxHierarchyLevel && frontier.length; depth++) {
    const next: RoleNode[] = []
    for (const node of frontier) {
      for (const parent of node.roles) {
        if (names.has(parent.name)) continue
        names.add(parent.name)
        next.push(parent)
      }
    }
    frontier = next
  }
  return names
}

import {
  acceptsJsonRequests,
  assertion,
  hasEval,
  parseExpression,
  roleManagerView,
  sectionKeys,
  type Enforcer,
  type ExprNode,
  type RoleManagerView,
} from './casbin-internals.ts'
import { roleClosure } from './role-closure.ts'
import type { EngineOptions, SearchSpace } from './types.ts'

// casbin's pattern functions: a policy value compared with one of them is a pattern, not a name
const PATTERN_FUNCTIONS = new Set([
  'keyMatch',
  'keyMatch2',
  'keyMatch3',
  'keyMatch4',
  'keyMatch5',
  'regexMatch',
  'ipMatch',
  'globMatch',
  'keyGet',
  'keyGet2',
  'keyGet3',
])
// casbin's hierarchy limit (DefaultRoleManager's maxHierarchyLevel)
const MAX_DEPTH = 10

interface Uses {
  /** p fields (indexes) compared with r.<token> by equality or as the role argument of g() */
  pFields: Set<number>
  /** role types g() is called with r.<token> as its user argument */
  roleTypes: Set<string>
  /** string literals compared with r.<token> (`r.sub == "root"`) */
  literals: Set<string>
  /** the first use the search cannot enumerate, for the 400 */
  problem?: string
}

const identifierName = (n: ExprNode | undefined) => (n?.type === 'Identifier' ? n.name : undefined)

/**
 * How the matcher reads request token `rName` (e.g. r_sub): which policy fields and role types
 * its values are compared with. Any other reading — attributes (ABAC), pattern functions, an
 * operator other than equality, a negation — is a problem, since the values it accepts then form
 * no finite list.
 */
function usesOf(matcher: ExprNode, rName: string, pTokens: readonly string[], roleTypes: ReadonlySet<string>): Uses {
  const uses: Uses = { pFields: new Set(), roleTypes: new Set(), literals: new Set() }
  const token = rName.replace(/^r_/, 'r.')
  const fail = (why: string) => void (uses.problem ??= why)
  const pIndex = (n: ExprNode | undefined) => {
    const name = identifierName(n)
    return name ? pTokens.indexOf(name) : -1
  }
  const literal = (n: ExprNode | undefined) =>
    n?.type === 'Literal' && typeof n.value === 'string' ? n.value : undefined

  function walk(n: ExprNode, negated: boolean): void {
    const use = () =>
      negated && fail(`the matcher negates a test of ${token}, so the values it accepts form no finite list`)
    switch (n.type) {
      case 'Identifier':
        // every use worth having is recognised at its parent; reaching one here is another use
        if (n.name === rName) fail(`the matcher uses ${token} in an expression the search cannot enumerate`)
        return
      case 'MemberExpression':
        if (identifierName(n.object) === rName)
          return fail(`the matcher reads attributes of ${token} (ABAC), so its values are not named in the policy`)
        walk(n.object, negated)
        if (n.computed) walk(n.property, negated)
        return
      case 'BinaryExpression': {
        const sides = [n.left, n.right] as const
        const mine = sides.findIndex((s) => identifierName(s) === rName)
        if (mine >= 0 && (n.operator === '==' || n.operator === '===')) {
          use()
          const other = sides[1 - mine]!
          const p = pIndex(other)
          const lit = literal(other)
          if (p >= 0) uses.pFields.add(p)
          else if (lit !== undefined) uses.literals.add(lit)
          else fail(`the matcher compares ${token} with something other than a policy field`)
          return
        }
        walk(n.left, negated)
        walk(n.right, negated)
        return
      }
      case 'CallExpression': {
        const fn = identifierName(n.callee) ?? ''
        const args = n.arguments
        const mine = args.findIndex((a) => identifierName(a) === rName)
        if (mine >= 0 && PATTERN_FUNCTIONS.has(fn))
          return fail(`the matcher compares ${token} with ${fn}() patterns, so its values form no finite list`)
        if (mine === 0 && roleTypes.has(fn)) {
          use()
          uses.roleTypes.add(fn)
          const p = pIndex(args[1])
          const lit = literal(args[1])
          if (p >= 0) uses.pFields.add(p)
          else if (lit !== undefined) uses.literals.add(lit)
          for (const a of args.slice(1)) walk(a, negated)
          return
        }
        if (mine >= 0)
          return fail(`the matcher passes ${token} to ${fn || 'a function'}() in a way the search cannot enumerate`)
        for (const a of args) walk(a, negated)
        return
      }
      case 'LogicalExpression':
        walk(n.left, negated)
        walk(n.right, negated)
        return
      case 'UnaryExpression':
        walk(n.argument, negated || n.operator === '!')
        return
      case 'ConditionalExpression':
        // a test chooses between branches: a value failing it may pass the other one
        walk(n.test, true)
        walk(n.consequent, negated)
        walk(n.alternate, negated)
        return
      case 'ArrayExpression':
        for (const e of n.elements) walk(e, negated)
        return
      case 'Compound':
        for (const e of n.body) walk(e, negated)
        return
      default:
        return
    }
  }
  walk(matcher, false)
  return uses
}

/**
 * Whether the matcher can only hold when r.<token> equals a policy field or literal (or holds a
 * role): a disjunct that leaves it free (`... || r.sub == "root"` for a resource search) makes
 * every value pass for some request, a list no search can give.
 */
function constrains(n: ExprNode, rName: string, roleTypes: ReadonlySet<string>): boolean {
  if (n.type === 'LogicalExpression' && n.operator === '&&')
    return constrains(n.left, rName, roleTypes) || constrains(n.right, rName, roleTypes)
  if (n.type === 'LogicalExpression' && n.operator === '||')
    return constrains(n.left, rName, roleTypes) && constrains(n.right, rName, roleTypes)
  if (n.type === 'BinaryExpression' && (n.operator === '==' || n.operator === '==='))
    return identifierName(n.left) === rName || identifierName(n.right) === rName
  if (n.type === 'CallExpression')
    return roleTypes.has(identifierName(n.callee) ?? '') && identifierName(n.arguments[0]) === rName
  return false
}

/** A condition every matching line meets, on the values of the other request elements. */
type LineFilter =
  | { kind: 'equal'; pIndex: number; rIndex: number }
  | { kind: 'role'; pIndex: number; rIndex: number; rm: RoleManagerView; domainIndex?: number }

/**
 * The top-level conjuncts (`a && b && ...`) of the matcher: those that test a policy field
 * against another request element become line filters; `exact` says whether every conjunct is
 * such a filter or a plain test of the searched element itself (`r.sub == p.sub`, `g(r.sub,
 * p.sub)`), in which case the lines the filters leave are exactly the matching lines.
 */
function lineFilters(
  matcher: ExprNode,
  rName: string,
  rTokens: readonly string[],
  pTokens: readonly string[],
  roleManagers: ReadonlyMap<string, RoleManagerView>,
) {
  const conjuncts: ExprNode[] = []
  const split = (n: ExprNode): void => {
    if (n.type === 'LogicalExpression' && n.operator === '&&') {
      split(n.left)
      split(n.right)
    } else conjuncts.push(n)
  }
  split(matcher)
  const rIndex = (n: ExprNode | undefined) => {
    const name = identifierName(n)
    return name && name !== rName ? rTokens.indexOf(name) : -1
  }
  const pIndex = (n: ExprNode | undefined) => {
    const name = identifierName(n)
    return name ? pTokens.indexOf(name) : -1
  }
  const filters: LineFilter[] = []
  let selfTests = 0
  let others = 0
  for (const c of conjuncts) {
    if (c.type === 'BinaryExpression' && (c.operator === '==' || c.operator === '===')) {
      const sides = [
        [c.left, c.right],
        [c.right, c.left],
      ] as const
      const found = sides.find(([r, p]) => rIndex(r) >= 0 && pIndex(p) >= 0)
      if (found) filters.push({ kind: 'equal', pIndex: pIndex(found[1]), rIndex: rIndex(found[0]) })
      else if (sides.some(([r, p]) => identifierName(r) === rName && pIndex(p) >= 0)) selfTests++
      else others++
    } else if (c.type === 'CallExpression') {
      const g = identifierName(c.callee) ?? ''
      const rm = roleManagers.get(g)
      const [user, role, domain, ...rest] = c.arguments
      if (
        rm &&
        !rest.length &&
        !domain &&
        identifierName(user) === rName &&
        pIndex(role) >= 0 &&
        !rm.hasPattern &&
        !rm.hasDomainPattern &&
        !rm.hasDomainHierarchy
      ) {
        selfTests++
        continue
      }
      if (!rm || rest.length || rIndex(user) < 0 || pIndex(role) < 0 || (domain && rIndex(domain) < 0)) {
        others++
        continue
      }
      filters.push({
        kind: 'role',
        pIndex: pIndex(role),
        rIndex: rIndex(user),
        rm,
        ...(domain ? { domainIndex: rIndex(domain) } : {}),
      })
    } else others++
  }
  return { filters, exact: others === 0 && selfTests > 0 }
}

/**
 * Who holds each role directly (any domain: a superset), and every role name, of the role types
 * the searched element is passed to.
 */
function roleHolders(model: ReturnType<Enforcer['getModel']>, roleTypes: Iterable<string>) {
  const holders = new Map<string, string[]>()
  const roles = new Set<string>()
  for (const g of roleTypes) {
    for (const [user, role] of assertion(model, 'g', g)?.policy ?? []) {
      if (user === undefined || role === undefined) continue
      roles.add(role)
      const list = holders.get(role)
      if (list) list.push(user)
      else holders.set(role, [user])
    }
  }
  /** `names` and everyone holding one of them through up to MAX_DEPTH links */
  function withHolders(names: Set<string>): Set<string> {
    if (!holders.size) return names
    let frontier = [...names]
    for (let depth = 0; depth < MAX_DEPTH && frontier.length; depth++) {
      const next: string[] = []
      for (const name of frontier) {
        for (const h of holders.get(name) ?? []) {
          if (names.has(h)) continue
          names.add(h)
          next.push(h)
        }
      }
      frontier = next
    }
    return names
  }
  return { roles, withHolders }
}

/**
 * Line positions by the value of one policy field, built on first use (a missing value is '',
 * as g() reads it; an equality test then rejects the line).
 */
function fieldIndexer(policy: readonly (readonly string[])[]) {
  const fieldIndexes = new Map<number, Map<string, number[]>>()
  function fieldIndex(pIndex: number): Map<string, number[]> {
    let index = fieldIndexes.get(pIndex)
    if (index) return index
    index = new Map()
    policy.forEach((line, i) => {
      const v = line[pIndex] || ''
      const list = index!.get(v)
      if (list) list.push(i)
      else index!.set(v, [i])
    })
    fieldIndexes.set(pIndex, index)
    return index
  }
  return fieldIndex
}

export interface SearchPlan {
  /** candidates for a request whose other elements are `request` (the searched one is ignored) */
  candidates(request: readonly unknown[]): SearchSpace
}

/**
 * The values request token `token` can take that the policy names, for the AuthZEN search APIs.
 * A value is only a candidate — the search checks each one through the engine — so a superset
 * is harmless and a missing value is the only error: candidates are the searched policy fields
 * of every line the matcher's top-level conditions on the other request elements leave, the
 * users holding (through role links) the roles named there, and literals the matcher compares
 * with; minus role names, as node-casbin's getImplicitUsersForPermission leaves roles out.
 * Sorted by UTF-16 code units, the order pages are cut in.
 */
export function searchPlan(e: Enforcer, token: string, options: EngineOptions = {}): SearchPlan {
  const model = e.getModel()
  const unsupported = (reason: string): SearchPlan => ({ candidates: () => ({ kind: 'unsupported', reason }) })
  const rTokens = assertion(model, 'r', 'r')?.tokens ?? []
  const rName = `r_${token}`
  if (!rTokens.includes(rName)) return unsupported(`the model's request has no "${token}" element`)
  const matcherText = assertion(model, 'm', 'm')?.value ?? ''
  const effect = assertion(model, 'e', 'e')?.value ?? ''
  const p = assertion(model, 'p', 'p')
  if (!p) return unsupported('the model has no policy definition')
  if (hasEval(matcherText))
    return unsupported('the matcher uses eval(), so the values it accepts are expressions, not names')
  if (effect === '!some(where (p_eft == deny))')
    return unsupported('its effect allows whatever no deny line matches, so the allowed values form no finite list')
  let parsed: ExprNode
  try {
    parsed = parseExpression(matcherText)
  } catch {
    return unsupported('the matcher cannot be analysed')
  }
  const roleTypes = new Set(sectionKeys(model, 'g'))
  const uses = usesOf(parsed, rName, p.tokens, roleTypes)
  if (uses.problem) return unsupported(uses.problem)
  if (!uses.pFields.size && !uses.roleTypes.size && !uses.literals.size)
    return unsupported(`the matcher compares r.${token} with no policy field`)
  if (!constrains(parsed, rName, roleTypes))
    return unsupported(
      `the matcher can hold whatever r.${token} is (an alternative leaves it unchecked), so the allowed values form no finite list`,
    )
  for (const g of uses.roleTypes) {
    const fn = options.named_matching_func?.[g]
    if (fn) return unsupported(`the role links of ${g} are ${fn} patterns (named_matching_func)`)
  }

  const walkable = new Map<string, RoleManagerView>()
  for (const g of roleTypes) {
    const view = roleManagerView(assertion(model, 'g', g)!.rm)
    if (view) walkable.set(g, view)
  }
  const analysed = lineFilters(parsed, rName, rTokens, p.tokens, walkable)
  const filters = analysed.filters
  // the answer needs no check per value when the filters are the whole matcher, allow lines are
  // all there is (no eft field, no deny) and request values are taken as they are
  const exactModel =
    analysed.exact &&
    effect === 'some(where (p_eft == allow))' &&
    !p.tokens.includes('p_eft') &&
    !acceptsJsonRequests(e) &&
    !uses.literals.size

  const { roles, withHolders } = roleHolders(model, uses.roleTypes)
  const finish = (values: Set<string>, exact: boolean): SearchSpace => {
    for (const r of roles) values.delete(r)
    values.delete('')
    return { kind: 'listed', values: [...values].sort(), exact }
  }

  const fields = [...uses.pFields]
  const fieldIndex = fieldIndexer(p.policy)
  let everything: SearchSpace | undefined
  return {
    candidates(request) {
      // a filter needs a plain string (the fast path's rule); without one the line stays in
      const active = filters.filter(
        (f) =>
          typeof request[f.rIndex] === 'string' &&
          (f.kind === 'equal' || f.domainIndex === undefined || typeof request[f.domainIndex] === 'string'),
      )
      if (!active.length) {
        everything ??= finish(
          withHolders(
            new Set([
              ...uses.literals,
              ...p.policy.flatMap((line) => fields.map((i) => line[i]).filter((v) => v !== undefined)),
            ]),
          ),
          exactModel && !filters.length,
        )
        return everything
      }
      // each filter as a line test, and the values of its policy field a line must have
      const tested = active.map((f) => {
        if (f.kind === 'equal') {
          const want = request[f.rIndex] as string
          return { pIndex: f.pIndex, accepted: [want], test: (line: readonly string[]) => line[f.pIndex] === want }
        }
        // g() reads a missing argument as ''
        const closure = roleClosure(
          f.rm,
          (request[f.rIndex] as string) || '',
          f.domainIndex === undefined ? undefined : (request[f.domainIndex] as string),
        )
        return {
          pIndex: f.pIndex,
          accepted: [...closure],
          test: (line: readonly string[]) => closure.has(line[f.pIndex] || ''),
        }
      })
      // the lines are reached through the filter that leaves the fewest, then tested
      const reach = (t: (typeof tested)[number]) =>
        t.accepted.reduce((n, v) => n + (fieldIndex(t.pIndex).get(v)?.length ?? 0), 0)
      const driver = tested.map((t) => ({ t, n: reach(t) })).reduce((a, b) => (b.n < a.n ? b : a)).t
      const index = fieldIndex(driver.pIndex)
      const values = new Set(uses.literals)
      for (const accepted of driver.accepted) {
        for (const li of index.get(accepted) ?? []) {
          const line = p.policy[li]!
          if (!tested.every((t) => t.test(line))) continue
          for (const i of fields) if (line[i] !== undefined) values.add(line[i]!)
        }
      }
      return finish(withHolders(values), exactModel && active.length === filters.length)
    },
  }
}

import { parseExpression, type ExprNode } from './casbin-internals.ts'

/**
 * An expression over the request alone — `r.obj`, `r.sub.id`, `r.obj["owner"]`, `"tenant1"` —
 * whose value the index looks up. Reading it can throw (a member of undefined); the request then
 * goes to plain enforce(), which decides whether casbin ever reads it.
 */
export type RequestValue = ExprNode

/** `<request value> == p.Y`: a line can match only if its value Y equals the request value. */
export interface EqualityKey {
  pIndex: number
  request: RequestValue
}

/**
 * `g(<user>, p.Y)` or `g(<user>, p.Y, <domain>)`: a line can match only if its value Y is the user
 * or one of the roles the user holds (in the domain).
 */
export interface RoleKey {
  g: string
  pIndex: number
  user: RequestValue
  domain?: RequestValue
}

export interface IndexPlan {
  /**
   * Request-only alternatives of a top-level `||` (`... || r.sub == "root"`): when one is true
   * every line matches and the request goes to enforce(); when all are false the matcher is the
   * indexed part alone.
   */
  guards: ExprNode[]
  equalities: EqualityKey[]
  roles: RoleKey[]
  description: string
}

export type Analysis = { kind: 'indexed'; plan: IndexPlan } | { kind: 'plain'; reason: string }

export interface MatcherContext {
  /** the matcher as casbin stores it (r.sub already escaped to r_sub) */
  matcher: string
  rTokens: readonly string[]
  pTokens: readonly string[]
  /** role types (g, g2, ...) of the model */
  roleTypes: ReadonlySet<string>
  /** role types whose role manager the index can walk */
  walkableRoleTypes: ReadonlySet<string>
}

// casbin's pattern functions; each returns a boolean (or throws)
const BOOLEAN_FUNCTIONS = new Set([
  'keyMatch',
  'keyMatch2',
  'keyMatch3',
  'keyMatch4',
  'keyMatch5',
  'regexMatch',
  'ipMatch',
  'globMatch',
])
const COMPARISONS = new Set(['==', '!=', '===', '!==', '<', '>', '<=', '>=', 'in'])

/** The operands of a chain of one logical operator, in evaluation order. */
function chain(node: ExprNode, operator: '&&' | '||'): ExprNode[] {
  if (node.type === 'LogicalExpression' && node.operator === operator)
    return [...chain(node.left, operator), ...chain(node.right, operator)]
  return [node]
}

/**
 * Whether an expression can only yield true or false (or throw). The index skips lines on which
 * some indexed conjunct is false; casbin records those lines as Indeterminate only if the whole
 * matcher then yields a boolean false — a part yielding NaN, null or undefined would change the
 * effect or make casbin throw, so such matchers are not indexed.
 */
function booleanValued(node: ExprNode, ctx: MatcherContext): boolean {
  switch (node.type) {
    case 'Literal':
      return typeof node.value === 'boolean'
    case 'BinaryExpression':
      return COMPARISONS.has(node.operator)
    case 'UnaryExpression':
      return node.operator === '!'
    case 'LogicalExpression':
      return booleanValued(node.left, ctx) && booleanValued(node.right, ctx)
    case 'ConditionalExpression':
      return booleanValued(node.consequent, ctx) && booleanValued(node.alternate, ctx)
    case 'CallExpression':
      return (
        node.callee.type === 'Identifier' &&
        (BOOLEAN_FUNCTIONS.has(node.callee.name) || ctx.roleTypes.has(node.callee.name))
      )
    default:
      return false
  }
}

/** Whether an expression may read a policy field (any p_ / p2_ ... name counts, conservatively). */
function readsPolicy(node: ExprNode): boolean {
  switch (node.type) {
    case 'Identifier':
      return /^p\d*_/.test(node.name)
    case 'Literal':
      return false
    case 'ThisExpression':
      // `this` is the whole evaluation context, policy fields included
      return true
    case 'BinaryExpression':
    case 'LogicalExpression':
      return readsPolicy(node.left) || readsPolicy(node.right)
    case 'UnaryExpression':
      return readsPolicy(node.argument)
    case 'CallExpression':
      return readsPolicy(node.callee) || node.arguments.some(readsPolicy)
    case 'MemberExpression':
      return readsPolicy(node.object) || (node.computed && readsPolicy(node.property))
    case 'ConditionalExpression':
      return readsPolicy(node.test) || readsPolicy(node.consequent) || readsPolicy(node.alternate)
    case 'ArrayExpression':
      return node.elements.some(readsPolicy)
    case 'Compound':
      return node.body.some(readsPolicy)
  }
}

/** A request token, a string literal, or a member path into a request token. */
function requestValue(node: ExprNode, ctx: MatcherContext): boolean {
  switch (node.type) {
    case 'Identifier':
      return ctx.rTokens.includes(node.name)
    case 'Literal':
      return typeof node.value === 'string'
    case 'MemberExpression':
      return (
        requestValue(node.object, ctx) &&
        (!node.computed ||
          (node.property.type === 'Literal' && ['string', 'number'].includes(typeof node.property.value)))
      )
    default:
      return false
  }
}

const policyField = (node: ExprNode, ctx: MatcherContext) =>
  node.type === 'Identifier' ? ctx.pTokens.indexOf(node.name) : -1

function equalityKey(node: ExprNode, ctx: MatcherContext): EqualityKey | undefined {
  if (node.type !== 'BinaryExpression' || (node.operator !== '==' && node.operator !== '===')) return undefined
  const pairs: Array<[ExprNode, ExprNode]> = [
    [node.left, node.right],
    [node.right, node.left],
  ]
  for (const [request, policy] of pairs) {
    const pIndex = policyField(policy, ctx)
    if (pIndex >= 0 && requestValue(request, ctx)) return { pIndex, request }
  }
  return undefined
}

function roleKey(node: ExprNode, ctx: MatcherContext): RoleKey | undefined {
  if (
    node.type !== 'CallExpression' ||
    node.callee.type !== 'Identifier' ||
    !ctx.walkableRoleTypes.has(node.callee.name)
  )
    return undefined
  const [user, role, domain, ...rest] = node.arguments
  if (!user || !role || rest.length) return undefined
  const pIndex = policyField(role, ctx)
  if (pIndex < 0 || !requestValue(user, ctx) || (domain && !requestValue(domain, ctx))) return undefined
  return domain ? { g: node.callee.name, pIndex, user, domain } : { g: node.callee.name, pIndex, user }
}

function source(node: ExprNode): string {
  switch (node.type) {
    case 'Identifier':
      return node.name.replace(/^([rp]\d*)_/, '$1.')
    case 'Literal':
      return node.raw
    case 'MemberExpression':
      return node.computed
        ? `${source(node.object)}[${source(node.property)}]`
        : `${source(node.object)}.${source(node.property)}`
    default:
      return '…'
  }
}

function describe(plan: Omit<IndexPlan, 'description'>, ctx: MatcherContext): string {
  const p = (i: number) => source({ type: 'Identifier', name: ctx.pTokens[i]! })
  const eq = plan.equalities.map((k) => `${p(k.pIndex)} == ${source(k.request)}`)
  const roles = plan.roles.map(
    (k) => `${p(k.pIndex)} in ${k.g}(${source(k.user)}${k.domain ? `, ${source(k.domain)}` : ''})`,
  )
  const guard = plan.guards.length ? ', unless a request-only alternative holds' : ''
  return `candidate lines by ${[...eq, ...roles].join(' and ')}${guard}`
}

/**
 * Decides whether the fast path may answer for a matcher, and on which fields it indexes.
 * Indexable: an `&&` chain of boolean-valued conjuncts, at least one of which is an equality
 * `<request value> == p.Y` or a role test `g(<request value>, p.Y[, <request value>])`,
 * optionally `||`-combined with boolean alternatives that read only the request. The other
 * conjuncts (keyMatch, regexMatch, attribute tests, ...) stay in the matcher, which is still
 * evaluated in full on every candidate line. Anything else — several alternatives reading the
 * policy, `in` at the top (it binds looser than `&&` in casbin's parser), a conditional — is
 * left to plain enforce().
 */
export function analyseMatcher(ctx: MatcherContext): Analysis {
  let root: ExprNode
  try {
    root = parseExpression(ctx.matcher)
  } catch (err) {
    return { kind: 'plain', reason: `the matcher does not parse: ${(err as Error).message}` }
  }
  const alternatives = chain(root, '||')
  const policyParts = alternatives.filter(readsPolicy)
  if (policyParts.length !== 1)
    return { kind: 'plain', reason: 'the matcher is not one policy condition (alternatives reading the policy)' }
  const guards = alternatives.filter((a) => !readsPolicy(a))
  if (!guards.every((g) => booleanValued(g, ctx)))
    return { kind: 'plain', reason: 'a request-only alternative of the matcher is not a boolean condition' }

  const conjuncts = chain(policyParts[0]!, '&&')
  if (!conjuncts.every((c) => booleanValued(c, ctx))) {
    return { kind: 'plain', reason: 'the matcher is not an && chain of boolean conditions' }
  }
  const equalities: EqualityKey[] = []
  const roles: RoleKey[] = []
  for (const c of conjuncts) {
    const eq = equalityKey(c, ctx)
    if (eq) equalities.push(eq)
    const role = eq ? undefined : roleKey(c, ctx)
    if (role) roles.push(role)
  }
  if (!equalities.length && !roles.length) {
    return { kind: 'plain', reason: 'no request == p.Y or g(request, p.Y) condition to index on' }
  }
  const plan = { guards, equalities, roles }
  return { kind: 'indexed', plan: { ...plan, description: describe(plan, ctx) } }
}

/**
 * The engine's whole contact surface with node-casbin (pinned at 5.51.1). The fast path reuses
 * casbin's own parts — the compiled matcher, the function map, the role managers and the effect
 * streams — instead of reimplementing them, which is what keeps its answers identical to
 * `enforce()`. A few of those parts are members TypeScript calls private or protected; they are
 * typed and reached here, checked once when an engine is built, and nowhere else.
 */
import { createRequire } from 'node:module'
import {
  DefaultEffector,
  DefaultRoleManager,
  Effect,
  FunctionMap,
  Util,
  newEnforcer,
  newModelFromString,
  type Adapter,
  type Assertion,
  type Enforcer,
  type EffectorStream,
  type Model,
} from 'casbin'

export { DefaultEffector, Effect, Util, newEnforcer, newModelFromString }
export type { Adapter, Assertion, Enforcer, EffectorStream, Model }

/** The role managers' domain when a g() call names none (casbin's DEFAULT_DOMAIN). */
export const DEFAULT_DOMAIN = 'casbin::default'

export type MatchFn = (...args: unknown[]) => unknown
export type CompiledExpression = (context: Record<string, unknown>) => unknown

/** A node of casbin's expression AST (jsep 0.3, as @casbin/expression-eval parses). */
export type ExprNode =
  | { type: 'Identifier'; name: string }
  | { type: 'Literal'; value: unknown; raw: string }
  | { type: 'BinaryExpression' | 'LogicalExpression'; operator: string; left: ExprNode; right: ExprNode }
  | { type: 'UnaryExpression'; operator: string; argument: ExprNode }
  | { type: 'CallExpression'; callee: ExprNode; arguments: ExprNode[] }
  | { type: 'MemberExpression'; object: ExprNode; property: ExprNode; computed: boolean }
  | { type: 'ConditionalExpression'; test: ExprNode; consequent: ExprNode; alternate: ExprNode }
  | { type: 'ArrayExpression'; elements: ExprNode[] }
  | { type: 'Compound'; body: ExprNode[] }
  | { type: 'ThisExpression' }

interface ExpressionEval {
  parse(text: string): ExprNode
  eval(node: ExprNode, context: Record<string, unknown>): unknown
  addBinaryOp(op: string, precedence: number, fn: (a: unknown, b: unknown) => unknown): void
}

// The expression library is casbin's own dependency, loaded from casbin's location so it is the
// very instance casbin compiles matchers with (the `in` operator is registered on it globally).
const requireFromCasbin = createRequire(createRequire(import.meta.url).resolve('casbin'))
const expressionEval = requireFromCasbin('@casbin/expression-eval') as ExpressionEval

/**
 * Parses matcher text exactly as casbin compiles it: `in` registered with casbin's precedence
 * (1, the same as `||` — so `a && b in (...)` is `(a && b) in (...)`) and casbin's bracket
 * rewrite applied. Throws on a syntax error.
 */
export function parseExpression(text: string): ExprNode {
  expressionEval.addBinaryOp('in', 1, Util.customIn as (a: unknown, b: unknown) => unknown)
  return expressionEval.parse(Util.bracketCompatible(text))
}

/** Evaluates part of a parsed matcher with casbin's evaluator (what its compiled matcher runs). */
export function evaluateNode(node: ExprNode, context: Record<string, unknown>): unknown {
  return expressionEval.eval(node, context)
}

/** What casbin's DefaultRoleManager keeps: one Role per name, linked to the roles it inherits. */
export interface RoleNode {
  name: string
  roles: RoleNode[]
}
export interface RolesMap extends Map<string, RoleNode> {
  hasRole(name: string, matchingFunc?: MatchFn): boolean
  createRole(name: string, matchingFunc?: MatchFn): RoleNode
}
export interface RoleManagerView {
  hasPattern: boolean
  hasDomainPattern: boolean
  hasDomainHierarchy: boolean
  maxHierarchyLevel: number
  matchingFunc?: MatchFn
  allDomains: Map<string, RolesMap>
  generateTempRoles(domain: string): RolesMap
  syncedHasLink(name1: string, name2: string, ...domain: string[]): boolean
}

interface EnforcerView {
  fm: { getFunctions(): Map<string, MatchFn> }
  acceptJsonRequest: boolean
  getExpression(asyncCompile: boolean, exp: string): CompiledExpression
}

const view = (e: Enforcer) => e as unknown as EnforcerView

/** An assertion of a model section (`r`, `p`, `g`, `e`, `m`), by key (`p`, `g2`, ...). */
export function assertion(model: Model, sec: string, key: string): Assertion | undefined {
  return model.model.get(sec)?.get(key)
}

export function sectionKeys(model: Model, sec: string): string[] {
  return [...(model.model.get(sec)?.keys() ?? [])]
}

/** casbin's live function map: what matchers call by name (keyMatch2, regexMatch, ...). */
export function functionMap(e: Enforcer): Map<string, MatchFn> {
  return view(e).fm.getFunctions()
}

/** The matcher compiled by casbin's own getExpression (and cached in the enforcer). */
export function compileMatcher(e: Enforcer, matcherText: string): CompiledExpression {
  return view(e).getExpression(false, matcherText)
}

export function acceptsJsonRequests(e: Enforcer): boolean {
  return view(e).acceptJsonRequest
}

/** casbin's synchronous g() for a role manager; a fresh one per request, as enforce() makes. */
export function gFunction(rm: unknown): MatchFn {
  return Util.generateSyncedGFunction(rm as never) as MatchFn
}

/**
 * The role manager behind a `g` assertion, when it is the DefaultRoleManager whose structure the
 * fast path walks; anything else (a custom manager) makes the caller fall back to enforce().
 */
export function roleManagerView(rm: unknown): RoleManagerView | undefined {
  if (!(rm instanceof DefaultRoleManager)) return undefined
  const v = rm as unknown as RoleManagerView
  const ok =
    v.allDomains instanceof Map && typeof v.generateTempRoles === 'function' && typeof v.maxHierarchyLevel === 'number'
  return ok ? v : undefined
}

export function newEffectStream(effectExpr: string): EffectorStream {
  return new DefaultEffector().newStream(effectExpr)
}

/** The effect expressions casbin's DefaultEffectorStream knows (anything else throws at enforce). */
export const SUPPORTED_EFFECTS: ReadonlySet<string> = new Set([
  'some(where (p_eft == allow))',
  '!some(where (p_eft == deny))',
  'some(where (p_eft == allow)) && !some(where (p_eft == deny))',
  'priority(p_eft) || deny',
  'subjectPriority(p_eft) || deny',
])

export const hasEval = (matcherText: string): boolean => Util.hasEval(matcherText)
export const escapeAssertion = (text: string): string => Util.escapeAssertion(text)
/** the p fields a matcher hands to eval(): eval(p_sub_rule) -> ['p_sub_rule'] */
export const evalFields = (matcherText: string): string[] => Util.getEvalValue(matcherText)

/** Names a matcher may call besides the role types: keyMatch, keyMatch2, ..., regexMatch, ipMatch, globMatch. */
export function builtinFunctionNames(): Set<string> {
  return new Set((FunctionMap.loadFunctionMap().getFunctions() as Map<string, unknown>).keys())
}

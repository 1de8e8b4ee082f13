import { escapeAssertion, parseExpression, type ExprNode } from './casbin-internals.ts'
import { namedCalls } from './expression-walk.ts'
import { CHECKED_FUNCTIONS, patternHazard } from './pattern-hazards.ts'
import type { StoreProblem } from './types.ts'

/** Where stored text reaches a pattern function's pattern (second) argument. */
export interface PatternSites {
  /** string literals in the matcher: keyMatch2(r.obj, "/x/:id") */
  literals: { fn: string; pattern: string }[]
  /** p fields (by position) read as patterns: keyMatch2(r.obj, p.obj) */
  fields: { fn: string; pIndex: number }[]
}

/**
 * The pattern arguments of an expression that validation can judge in advance. Patterns taken
 * from the request or computed at check time cannot be; the guarded functions judge those.
 */
export function patternSites(root: ExprNode, pTokens: readonly string[]): PatternSites {
  const sites: PatternSites = { literals: [], fields: [] }
  for (const call of namedCalls(root)) {
    if (!CHECKED_FUNCTIONS.has(call.name)) continue
    const arg = call.args[1]
    if (arg?.type === 'Literal' && typeof arg.value === 'string')
      sites.literals.push({ fn: call.name, pattern: arg.value })
    if (arg?.type === 'Identifier' && pTokens.includes(arg.name))
      sites.fields.push({ fn: call.name, pIndex: pTokens.indexOf(arg.name) })
  }
  return sites
}

export function literalProblems(sites: PatternSites, where: string, line?: number): StoreProblem[] {
  return sites.literals.flatMap(({ fn, pattern }) => {
    const problem = patternHazard(fn, pattern)
    return problem ? [{ kind: 'hazardous_pattern' as const, message: `${where}: ${problem}`, line }] : []
  })
}

export interface NumberedLine {
  /** 1-based position in the store's policy lines */
  line: number
  values: readonly string[]
}

/** Hazards in the policy fields the matcher hands to pattern functions. */
export function fieldProblems(sites: PatternSites, lines: readonly NumberedLine[]): StoreProblem[] {
  const out: StoreProblem[] = []
  for (const { line, values } of lines) {
    for (const { fn, pIndex } of sites.fields) {
      const problem = patternHazard(fn, values[pIndex] ?? '')
      if (problem) out.push({ kind: 'hazardous_pattern', message: `line ${line}: ${problem}`, line })
    }
  }
  return out
}

/**
 * Rules handed to eval(): each must parse, and the patterns written into it are judged like the
 * matcher's own literals.
 */
export function evalRuleProblems(
  lines: readonly NumberedLine[],
  ruleIndexes: readonly number[],
  pTokens: readonly string[],
): StoreProblem[] {
  const out: StoreProblem[] = []
  for (const { line, values } of lines) {
    for (const i of ruleIndexes) {
      const rule = values[i] ?? ''
      let root: ExprNode
      try {
        root = parseExpression(escapeAssertion(rule))
      } catch (err) {
        out.push({
          kind: 'invalid_rule',
          message: `line ${line}: rule ${JSON.stringify(rule)} does not parse: ${(err as Error).message}`,
          line,
        })
        continue
      }
      out.push(...literalProblems(patternSites(root, pTokens), `line ${line} rule`, line))
    }
  }
  return out
}

/** Role names (or domains) stored under a role type with a pattern matching function are patterns. */
export function roleNameProblems(
  fn: string,
  option: string,
  ptype: string,
  lines: readonly NumberedLine[],
  columns: readonly number[],
): StoreProblem[] {
  const out: StoreProblem[] = []
  for (const { line, values } of lines) {
    for (const c of columns) {
      const problem = patternHazard(fn, values[c] ?? '')
      if (problem)
        out.push({ kind: 'hazardous_pattern', message: `line ${line} (${ptype}, ${option}): ${problem}`, line })
    }
  }
  return out
}

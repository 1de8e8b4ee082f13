import {
  SUPPORTED_EFFECTS,
  assertion,
  builtinFunctionNames,
  evalFields,
  newModelFromString,
  parseExpression,
  sectionKeys,
  type ExprNode,
  type Model,
} from './casbin-internals.ts'
import { namedCalls } from './expression-walk.ts'
import { loadEnforcer } from './load.ts'
import { MATCHING_FUNCTION_NAMES } from './matching-functions.ts'
import {
  evalRuleProblems,
  fieldProblems,
  literalProblems,
  patternSites,
  roleNameProblems,
  type NumberedLine,
} from './pattern-sites.ts'
import { MAX_ROLE_PATHS, explosiveRole } from './role-graph.ts'
import type { StoreInput, StoreProblem } from './types.ts'

/** enough to fix a store by; a million-line import should not produce a million-line answer */
const MAX_PROBLEMS = 100

function optionProblems(input: StoreInput, roleTypes: ReadonlySet<string>): StoreProblem[] {
  const out: StoreProblem[] = []
  for (const option of ['named_matching_func', 'named_domain_matching_func'] as const) {
    for (const [ptype, fn] of Object.entries(input.options?.[option] ?? {})) {
      if (!roleTypes.has(ptype))
        out.push({ kind: 'options', message: `${option}.${ptype}: the model has no role type ${ptype}` })
      if (!MATCHING_FUNCTION_NAMES.includes(fn)) {
        out.push({
          kind: 'options',
          message: `${option}.${ptype}: unknown matching function ${fn} (one of ${MATCHING_FUNCTION_NAMES.join(', ')})`,
        })
      }
    }
  }
  return out
}

function matcherProblems(model: Model, roleTypes: ReadonlySet<string>): { root?: ExprNode; problems: StoreProblem[] } {
  const problems: StoreProblem[] = []
  const effect = assertion(model, 'e', 'e')?.value ?? ''
  if (!SUPPORTED_EFFECTS.has(effect)) {
    problems.push({ kind: 'model', message: `policy_effect ${JSON.stringify(effect)} is not one casbin supports` })
  }
  const matcher = assertion(model, 'm', 'm')?.value ?? ''
  let root: ExprNode
  try {
    root = parseExpression(matcher)
  } catch (err) {
    return {
      problems: [...problems, { kind: 'model', message: `the matcher does not parse: ${(err as Error).message}` }],
    }
  }
  const known = builtinFunctionNames()
  for (const call of namedCalls(root)) {
    if (!known.has(call.name) && !roleTypes.has(call.name) && call.name !== 'eval') {
      problems.push({
        kind: 'model',
        message: `the matcher calls ${call.name}(), which is neither a casbin function nor a role type of the model`,
      })
    }
  }
  return { root, problems }
}

/** Arity of each ptype: the p tokens, or the "_" placeholders of a role definition. */
function arities(model: Model): Map<string, number> {
  const out = new Map<string, number>()
  for (const key of sectionKeys(model, 'p')) out.set(key, assertion(model, 'p', key)!.tokens.length)
  for (const key of sectionKeys(model, 'g')) out.set(key, (assertion(model, 'g', key)!.value.match(/_/g) ?? []).length)
  return out
}

/**
 * Every reason a store (model + policy lines + options) must not be committed, or [] when it can
 * be: a model that does not parse or that casbin cannot evaluate, unknown options, a line of an
 * unknown ptype or whose arity does not match its definition, a pattern that would make a
 * matcher function loop (or throw, or backtrack without end), and a role graph whose checks
 * would stall. Never evaluates anything with the stored patterns, so it cannot hang itself.
 */
export async function validateStore(input: StoreInput): Promise<StoreProblem[]> {
  let model: Model
  try {
    model = newModelFromString(input.modelText)
  } catch (err) {
    return [{ kind: 'model', message: `the model does not parse: ${(err as Error).message}` }]
  }
  const roleTypes = new Set(sectionKeys(model, 'g'))
  const matcher = matcherProblems(model, roleTypes)
  const problems: StoreProblem[] = [...optionProblems(input, roleTypes), ...matcher.problems]

  const arity = arities(model)
  const byPtype = new Map<string, NumberedLine[]>()
  input.policyLines.forEach(([ptype, ...values], i) => {
    const line = i + 1
    const expected = ptype === undefined ? undefined : arity.get(ptype)
    if (expected === undefined) {
      problems.push({
        kind: 'unknown_ptype',
        message: `line ${line}: ${ptype === undefined ? 'empty line' : `the model defines no policy type ${JSON.stringify(ptype)}`}`,
        line,
      })
    } else if (values.length !== expected) {
      problems.push({
        kind: 'arity',
        message: `line ${line}: ${ptype} takes ${expected} values, the line has ${values.length}`,
        line,
      })
    } else {
      let list = byPtype.get(ptype!)
      if (!list) byPtype.set(ptype!, (list = []))
      list.push({ line, values })
    }
  })

  const pTokens = assertion(model, 'p', 'p')?.tokens ?? []
  const pLines = byPtype.get('p') ?? []
  if (matcher.root) {
    const sites = patternSites(matcher.root, pTokens)
    problems.push(...literalProblems(sites, 'matcher'), ...fieldProblems(sites, pLines))
    const ruleIndexes = evalFields(assertion(model, 'm', 'm')!.value)
      .map((f) => pTokens.indexOf(f))
      .filter((i) => i >= 0)
    if (ruleIndexes.length) problems.push(...evalRuleProblems(pLines, ruleIndexes, pTokens))
  }
  for (const [option, columns] of [
    ['named_matching_func', [0, 1]],
    ['named_domain_matching_func', [2]],
  ] as const) {
    for (const [ptype, fn] of Object.entries(input.options?.[option] ?? {})) {
      problems.push(...roleNameProblems(fn, option, ptype, byPtype.get(ptype) ?? [], columns))
    }
  }
  for (const g of roleTypes) {
    const explosive = explosiveRole((byPtype.get(g) ?? []).map((l) => l.values))
    if (explosive) {
      const where = explosive.domain === undefined ? '' : ` in domain ${JSON.stringify(explosive.domain)}`
      problems.push({
        kind: 'role_graph',
        message: `${g}: checking ${JSON.stringify(explosive.name)}${where} would walk more than ${MAX_ROLE_PATHS} inheritance paths (cycles or dense role inheritance)`,
      })
    }
  }

  // what casbin itself refuses when loading (e.g. a role definition with fewer than two "_")
  if (!problems.length) {
    try {
      await loadEnforcer(input)
    } catch (err) {
      problems.push({ kind: 'model', message: `casbin cannot load the store: ${(err as Error).message}` })
    }
  }
  if (problems.length <= MAX_PROBLEMS) return problems
  return [
    ...problems.slice(0, MAX_PROBLEMS),
    { kind: problems[MAX_PROBLEMS]!.kind, message: `... and ${problems.length - MAX_PROBLEMS} more problems` },
  ]
}

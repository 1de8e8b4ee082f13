/**
 * Patterns that would stop the process inside a casbin matcher function.
 *
 * node-casbin 5.51.1's keyMatch2/keyGet2 rewrite `:name` segments, and keyMatch3/4/5 rewrite
 * `{name}` segments, in a loop that runs while the pattern still contains "/:" (resp. "/{") and
 * replaces one segment per turn with a regex that needs a name after the marker. When a marker is
 * left that the regex cannot match — "/:/all", "/x/:", "/{id/using/{resId}" — the replacement
 * changes nothing and the loop never ends, blocking the event loop for every later request.
 *
 * We decide that by running the same rewrite with casbin's regexes and stopping at the first
 * turn that makes no progress. It always ends: every productive turn removes at least one ':' or
 * '{' (the replacement text contains neither). Patterns are capped in length so that this check,
 * and casbin's own quadratic rewrite at enforce time, stay cheap.
 *
 * The regex the functions then build is checked too: one that does not compile would make every
 * check touching the line throw, and a nested quantifier such as (a+)+ can backtrack for minutes
 * on a crafted request. Nothing here ever calls casbin's functions on the pattern.
 */

export const MAX_PATTERN_LENGTH = 4096

interface Rewrite {
  marker: string
  segment: RegExp
  replacement: string
  /** keyMatch2 turns a bare "*" into "(.*)" after the loop */
  bareStar?: boolean
}

// Copied from node-casbin 5.51.1 util/builtinOperators.js (keyMatch2, keyMatch3/5, keyMatch4).
const COLON: Rewrite = { marker: '/:', segment: /(.*):[^/]+(.*)/g, replacement: '$1[^/]+$2', bareStar: true }
const BRACE: Rewrite = { marker: '/{', segment: /(.*){[^/]+}(.*)/g, replacement: '$1[^/]+$2' }
const BRACE_CAPTURE: Rewrite = { marker: '/{', segment: /(.*){[^/]+}(.*)/g, replacement: '$1([^/]+)$2' }

/** The regex source casbin would build, or null when its rewrite loop would never end. */
function rewrite(pattern: string, r: Rewrite): string | null {
  let key = pattern.replace(/\/\*/g, '/.*')
  for (;;) {
    if (!key.includes(r.marker)) break
    r.segment.lastIndex = 0
    const next = key.replace(r.segment, r.replacement)
    if (next === key) return null
    key = next
  }
  if (r.bareStar && key === '*') key = '(.*)'
  return `^${key}$`
}

/**
 * A group that contains a repetition and is itself repeated — (a+)+, (x*)*, (ab+){2,} — is the
 * shape behind catastrophic backtracking. Conservative: some harmless patterns are refused too.
 */
export function nestedQuantifier(source: string): boolean {
  const groups: boolean[] = []
  const quantifierAt = (i: number) => {
    const c = source[i]
    if (c === '*' || c === '+') return true
    return c === '{' && /^\{\d+,\d*\}/.test(source.slice(i, i + 24))
  }
  for (let i = 0; i < source.length; i++) {
    const c = source[i]
    if (c === '\\') {
      i++
    } else if (c === '[') {
      // skip the class (in JavaScript a ']' right after '[' or '[^' closes it)
      i++
      if (source[i] === '^') i++
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1
    } else if (c === '(') {
      groups.push(false)
    } else if (c === ')') {
      const repeatsInside = groups.pop() ?? false
      const repeated = quantifierAt(i + 1)
      if (repeatsInside && repeated) return true
      if (groups.length && (repeatsInside || repeated)) groups[groups.length - 1] = true
    } else if (groups.length && quantifierAt(i)) {
      groups[groups.length - 1] = true
    }
  }
  return false
}

function regexProblem(fn: string, pattern: string, source: string): string | null {
  try {
    new RegExp(source)
  } catch {
    return `${fn} pattern ${JSON.stringify(pattern)} is not a valid regular expression`
  }
  if (nestedQuantifier(source)) {
    return `${fn} pattern ${JSON.stringify(pattern)} repeats a repeated group (like (a+)+), which can backtrack without end`
  }
  return null
}

function rewritten(r: Rewrite, what: string) {
  return (fn: string, pattern: string): string | null => {
    if (pattern.length > MAX_PATTERN_LENGTH) return `${fn} pattern is longer than ${MAX_PATTERN_LENGTH} characters`
    const source = rewrite(pattern, r)
    if (source === null) {
      return `${fn} pattern ${JSON.stringify(pattern)} would make node-casbin loop forever (${what})`
    }
    return regexProblem(fn, pattern, source)
  }
}

const colonCheck = rewritten(COLON, 'a "/:" with no parameter name before the next "/" or the end')
const braceCheck = rewritten(BRACE, 'a "/{" without a closing "}" in the same path segment')
const braceCaptureCheck = rewritten(BRACE_CAPTURE, 'a "/{" without a closing "}" in the same path segment')

const CHECKS: Record<string, (fn: string, pattern: string) => string | null> = {
  keyMatch2: colonCheck,
  keyGet2: colonCheck,
  keyMatch3: braceCheck,
  keyMatch5: braceCheck,
  keyMatch4: braceCaptureCheck,
  regexMatch: (fn, pattern) => regexProblem(fn, pattern, pattern),
}

/** Functions whose second argument is a pattern this module can judge. */
export const CHECKED_FUNCTIONS: ReadonlySet<string> = new Set(Object.keys(CHECKS))

/**
 * Why `pattern`, given as the pattern (second) argument of matcher function `fn`, must be
 * refused — or null when it is safe. Linear-to-quadratic in the (capped) pattern length.
 */
export function patternHazard(fn: string, pattern: string): string | null {
  const check = CHECKS[fn]
  return check ? check(fn, pattern) : null
}

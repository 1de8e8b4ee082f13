/**
 * What a Casbin model's request looks like, read from its text: the `r` tokens (e.g. sub, dom,
 * obj, act) and whether the matcher reads attributes of them (ABAC: `r.sub.Owner`), which decides
 * how an AuthZEN request maps onto the tuple.
 */
export interface RequestShape {
  tokens: string[]
  /** tokens whose attributes the matcher reads (r.<token>.<attr>), so they receive objects */
  objectTokens: string[]
  /**
   * tokens that may be given as objects in a native check: those the matcher reads attributes
   * of, and those an eval() rule in the policy reads (`p, r.sub.Age > 18, ...`)
   */
  attributeTokens: string[]
}

function section(modelText: string, name: string): string[] {
  const out: string[] = []
  let inside = false
  for (const raw of modelText.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const header = /^\[(.+)\]$/.exec(line)
    if (header) {
      inside = header[1]!.trim() === name
      continue
    }
    if (inside) out.push(line)
  }
  return out
}

export function requestShape(modelText: string, policyLines: readonly (readonly string[])[] = []): RequestShape {
  const def = section(modelText, 'request_definition').find((l) => /^r\s*=/.test(l))
  const tokens = def
    ? def
        .replace(/^r\s*=/, '')
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : []
  const matchers = section(modelText, 'matchers').join(' ')
  const readsAttributes = (t: string, text: string) => new RegExp(`\\br\\.${t}\\.\\w`).test(text)
  const objectTokens = tokens.filter((t) => readsAttributes(t, matchers))
  // eval() takes its expression from a policy line, so the attributes it reads are there
  const rules = /\beval\s*\(/.test(matchers) ? policyLines.map((l) => l.join(' ')).join('\n') : ''
  const attributeTokens = tokens.filter((t) => objectTokens.includes(t) || (rules !== '' && readsAttributes(t, rules)))
  return { tokens, objectTokens, attributeTokens }
}

/**
 * What a Casbin model's request looks like, read from its text: the `r` tokens (e.g. sub, dom,
 * obj, act) and whether the matcher reads attributes of them (ABAC: `r.sub.Owner`), which decides
 * how an AuthZEN request maps onto the tuple.
 */
export interface RequestShape {
  tokens: string[]
  /** tokens whose attributes the matcher reads (r.<token>.<attr>), so they receive objects */
  objectTokens: string[]
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

export function requestShape(modelText: string): RequestShape {
  const def = section(modelText, 'request_definition').find((l) => /^r\s*=/.test(l))
  const tokens = def ? def.replace(/^r\s*=/, '').split(',').map((t) => t.trim()).filter(Boolean) : []
  const matchers = section(modelText, 'matchers').join(' ')
  const objectTokens = tokens.filter((t) => new RegExp(`\\br\\.${t}\\.\\w`).test(matchers))
  return { tokens, objectTokens }
}

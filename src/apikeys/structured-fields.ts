/**
 * The small part of RFC 8941 (Structured Field Values) that HTTP Message Signatures (RFC 9421)
 * and Content-Digest (RFC 9530) need: dictionaries whose values are items or inner lists, with
 * parameters. Strict: anything else is a parse error (thrown as Error with a message).
 */
export type Bare = string | number | boolean | Buffer | { token: string }
export interface Item {
  value: Bare
  params: Map<string, Bare>
}
export interface InnerList {
  items: Item[]
  params: Map<string, Bare>
  raw: string
}
export type Member = Item | InnerList

const isInner = (m: Member): m is InnerList => 'items' in m
export { isInner }

class Parser {
  i = 0
  constructor(readonly s: string) {}
  fail(what: string): never {
    throw new Error(`${what} at position ${this.i}`)
  }
  peek() {
    return this.s[this.i]
  }
  ows() {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++
  }
  sp() {
    while (this.peek() === ' ') this.i++
  }
  key(): string {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i))
    if (!m) this.fail('expected a key')
    this.i += m[0].length
    return m[0]
  }
  bare(): Bare {
    const c = this.peek()
    if (c === '"') {
      let out = ''
      this.i++
      for (;;) {
        const ch = this.s[this.i++]
        if (ch === undefined) this.fail('unterminated string')
        if (ch === '\\') {
          const next = this.s[this.i++]
          if (next !== '"' && next !== '\\') this.fail('bad escape in string')
          out += next
        } else if (ch === '"') return out
        else if (ch < ' ' || ch > '~') this.fail('bad character in string')
        else out += ch
      }
    }
    if (c === ':') {
      const end = this.s.indexOf(':', this.i + 1)
      if (end < 0) this.fail('unterminated byte sequence')
      const b64 = this.s.slice(this.i + 1, end)
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) this.fail('bad base64 in byte sequence')
      this.i = end + 1
      return Buffer.from(b64, 'base64')
    }
    if (c === '?') {
      const v = this.s[this.i + 1]
      if (v !== '0' && v !== '1') this.fail('bad boolean')
      this.i += 2
      return v === '1'
    }
    const num = /^-?\d{1,15}(\.\d{1,3})?/.exec(this.s.slice(this.i))
    if (num) {
      this.i += num[0].length
      return Number(num[0])
    }
    const tok = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/.exec(this.s.slice(this.i))
    if (tok) {
      this.i += tok[0].length
      return { token: tok[0] }
    }
    this.fail('expected a value')
  }
  params(): Map<string, Bare> {
    const out = new Map<string, Bare>()
    while (this.peek() === ';') {
      this.i++
      this.sp()
      const k = this.key()
      let v: Bare = true
      if (this.peek() === '=') {
        this.i++
        v = this.bare()
      }
      out.set(k, v)
    }
    return out
  }
  member(): Member {
    if (this.peek() === '(') {
      const start = this.i
      this.i++
      const items: Item[] = []
      for (;;) {
        this.sp()
        if (this.peek() === ')') {
          this.i++
          break
        }
        const value = this.bare()
        items.push({ value, params: this.params() })
        if (this.peek() !== ' ' && this.peek() !== ')') this.fail('expected a space or ) in inner list')
      }
      const params = this.params()
      return { items, params, raw: this.s.slice(start, this.i) }
    }
    const value = this.bare()
    return { value, params: this.params() }
  }
}

/** Parses a Dictionary field (RFC 8941 §3.2). Throws on malformed input. */
export function parseDictionary(text: string): Map<string, Member> {
  const p = new Parser(text.trim())
  const out = new Map<string, Member>()
  if (!p.s) return out
  for (;;) {
    const k = p.key()
    let m: Member
    if (p.peek() === '=') {
      p.i++
      m = p.member()
    } else {
      m = { value: true, params: p.params() }
    }
    out.set(k, m)
    p.ows()
    if (p.i >= p.s.length) return out
    if (p.peek() !== ',') p.fail('expected , between dictionary members')
    p.i++
    p.ows()
    if (p.i >= p.s.length) p.fail('trailing comma')
  }
}

/** Serializes a string as an sf-string. */
export const sfString = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`

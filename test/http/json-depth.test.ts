import { describe, expect, it } from 'vitest'
import { JSON_MAX_DEPTH, jsonTooDeep } from '../../src/http/body.ts'

/** The JSON depth scan that runs before every JSON body is parsed (src/http/body.ts). */
const nest = (n: number, inner = '1') => `${'{"a":['.repeat(n)}${inner}${']}'.repeat(n)}`

describe('jsonTooDeep', () => {
  it('allows exactly the limit and refuses one level more', () => {
    expect(jsonTooDeep(`${'['.repeat(JSON_MAX_DEPTH)}${']'.repeat(JSON_MAX_DEPTH)}`)).toBe(false)
    expect(jsonTooDeep(`${'['.repeat(JSON_MAX_DEPTH + 1)}${']'.repeat(JSON_MAX_DEPTH + 1)}`)).toBe(true)
    // objects and arrays both count: 16 of each pair is 32 levels
    expect(jsonTooDeep(nest(16))).toBe(false)
    expect(jsonTooDeep(nest(17))).toBe(true)
  })

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(jsonTooDeep(JSON.stringify({ s: '['.repeat(1000) }))).toBe(false)
    expect(jsonTooDeep(JSON.stringify({ s: `\\"${'{'.repeat(1000)}` }))).toBe(false)
    expect(jsonTooDeep(JSON.stringify([`"]]]]`, '['.repeat(100)]))).toBe(false)
  })

  it('agrees with the real depth of documents JSON.stringify writes', () => {
    for (let depth = 1; depth <= 40; depth++) {
      let v: unknown = 'x'
      for (let i = 0; i < depth; i++) v = i % 2 ? [v, '[{'] : { k: v, '{': ']' }
      expect(jsonTooDeep(JSON.stringify(v)), `depth ${depth}`).toBe(depth > JSON_MAX_DEPTH)
    }
  })
})

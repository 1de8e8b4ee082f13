import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { allErrorCodes, errorCodesTable } from '../../src/error-catalogues.ts'

const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/api.md'), 'utf8')
const table = /<!-- error-codes:start -->\n([\s\S]*?)\n<!-- error-codes:end -->/.exec(doc)?.[1] ?? ''
const codesIn = (text: string) => new Set([...text.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!))

describe('error-code catalogues and docs/api.md', () => {
  it('each code is defined in exactly one catalogue', () => {
    const seen = new Map<string, string[]>()
    for (const [feature, code] of allErrorCodes()) seen.set(code, [...(seen.get(code) ?? []), feature])
    expect([...seen].filter(([, features]) => features.length > 1)).toEqual([])
  })

  it('every catalogued code is in the docs table, and every code in the table is catalogued', () => {
    const documented = codesIn(table)
    const catalogued = new Set(allErrorCodes().map(([, code]) => code))
    expect(
      [...catalogued].filter((c) => !documented.has(c)),
      'in a catalogue, missing from docs/api.md',
    ).toEqual([])
    expect(
      [...documented].filter((c) => !catalogued.has(c)),
      'in docs/api.md, in no catalogue',
    ).toEqual([])
  })

  it('the docs table says what the catalogues say (status, shown, meaning)', () => {
    // On failure, paste the expected table between the error-codes markers of docs/api.md.
    expect(table).toBe(errorCodesTable())
  })

  it('codes are snake_case and statuses are HTTP error statuses', () => {
    for (const [, code, spec] of allErrorCodes()) {
      expect(code).toMatch(/^[a-z][a-z0-9_]*$/)
      for (const s of [spec.status, ...(spec.also ?? [])]) expect(s >= 400 && s < 600, `${code} ${s}`).toBe(true)
    }
  })
})

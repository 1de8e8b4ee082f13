import fs from 'node:fs'
import { describe, expect, it } from 'vitest'

// docs/security.md maps every threat to "the test that proves it" (issue 13 §5). A reference to
// a test that was renamed or removed would be a false claim of protection, so this file checks
// every reference against the suite: `test/…test.ts` › "exact it()/describe() title".
const doc = fs.readFileSync('docs/security.md', 'utf8')

// Markdown escapes in the document (`\|` inside tables, `\\`) and JS escapes in the sources
// (`\'`, `\\`) are undone so both sides compare as the title reads.
const fromMarkdown = (s: string) => s.replace(/\\([|\\])/g, '$1')
const fromSource = (s: string) => s.replace(/\\(['"\\`])/g, '$1')

const references = [...doc.matchAll(/`(test\/[^`]+?\.test\.ts)` › "([^"]+)"/g)].map((m) => ({
  file: m[1]!,
  title: fromMarkdown(m[2]!),
}))

describe('docs/security.md', () => {
  it('names only tests that exist, by file and exact title', () => {
    expect(references.length).toBeGreaterThan(100)
    const missing = references.filter(({ file, title }) => {
      if (!fs.existsSync(file)) return true
      // (prettier may put a long title on the line after the opening parenthesis)
      const source = fromSource(fs.readFileSync(file, 'utf8')).replace(/\(\s+(['"`])/g, '($1')
      // The title must open a test or suite call: it('…'), it.skipIf(x)('…'), describe("…"), ...
      return !["'", '"', '`'].some((q) => source.includes(`(${q}${title}${q}`))
    })
    expect(missing.map((r) => `${r.file} › ${r.title}`)).toEqual([])
  })

  it('names only source files that exist', () => {
    const paths = [...doc.matchAll(/`(src\/[\w./-]+\.ts)`/g)].map((m) => m[1]!)
    expect(paths.length).toBeGreaterThan(20)
    expect(paths.filter((p) => !fs.existsSync(p))).toEqual([])
  })
})

/**
 * Casbin's policy CSV: one rule per line, `ptype, v0, v1, ...`. Fields are trimmed; a field in
 * double quotes may contain commas (and "" for a quote), as casbin's file adapter reads it.
 * Blank lines and lines starting with # are ignored.
 */
export type PolicyLine = string[]

export interface CsvProblem {
  line: number
  message: string
}

export function parsePolicyCsv(text: string): { lines: PolicyLine[]; problems: CsvProblem[] } {
  const lines: PolicyLine[] = []
  const problems: CsvProblem[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const trimmed = raw.trim()
    if (!trimmed || trimmed.startsWith('#')) return
    const fields = splitCsvLine(trimmed)
    if (!fields) problems.push({ line: i + 1, message: 'unterminated quoted field' })
    else if (fields.length < 2)
      problems.push({ line: i + 1, message: 'a policy line needs a type and at least one value' })
    else if (!/^[a-z]\w*$/.test(fields[0]!))
      problems.push({ line: i + 1, message: `"${fields[0]}" is not a policy type (p, p2, g, g2, ...)` })
    else lines.push(fields)
  })
  return { lines, problems }
}

function splitCsvLine(line: string): string[] | null {
  const out: string[] = []
  let i = 0
  while (i <= line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++
    if (line[i] === '"') {
      let value = ''
      i++
      for (;;) {
        if (i >= line.length) return null
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"'
            i += 2
            continue
          }
          i++
          break
        }
        value += line[i++]
      }
      while (line[i] === ' ' || line[i] === '\t') i++
      out.push(value)
      if (line[i] === ',') i++
      else break
    } else {
      const next = line.indexOf(',', i)
      const end = next === -1 ? line.length : next
      out.push(line.slice(i, end).trim())
      if (next === -1) break
      i = next + 1
    }
  }
  return out
}

const quote = (v: string) => (/[",]|^\s|\s$/.test(v) ? `"${v.replace(/"/g, '""')}"` : v)

export const formatPolicyLine = (line: PolicyLine) => line.map(quote).join(', ')
export const formatPolicyCsv = (lines: readonly PolicyLine[]) =>
  lines.map(formatPolicyLine).join('\n') + (lines.length ? '\n' : '')

/** Stable identity of a line, for set operations (add/remove/diff). */
export const lineKey = (line: PolicyLine) => JSON.stringify(line)

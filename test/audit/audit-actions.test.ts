import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { allAuditActions, auditActionsDoc } from '../../src/audit/actions.ts'

const doc = fs.readFileSync(path.resolve(import.meta.dirname, '../../docs/audit.md'), 'utf8')
const section = /<!-- audit-actions:start -->\n([\s\S]*?)\n<!-- audit-actions:end -->/.exec(doc)?.[1] ?? ''

describe('the audit-action catalogue and docs/audit.md', () => {
  it('every action is documented, and every documented action is in the catalogue', () => {
    const documented = new Set([...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!))
    const catalogued = new Set(allAuditActions().map(([, a]) => a as string))
    expect(
      [...catalogued].filter((a) => !documented.has(a)),
      'recorded, missing from docs/audit.md',
    ).toEqual([])
    expect(
      [...documented].filter((a) => !catalogued.has(a)),
      'in docs/audit.md, in no catalogue',
    ).toEqual([])
  })

  it('the list reads as the catalogue says (groups and meanings)', () => {
    // On failure, paste auditActionsDoc() between the audit-actions markers of docs/audit.md.
    expect(section).toBe(auditActionsDoc())
  })

  it('each action is in one group only and named feature.event (or login/logout)', () => {
    const all = allAuditActions().map(([, a]) => a)
    expect(all.length).toBe(new Set(all).size)
    for (const a of all) expect(a).toMatch(/^(login|logout|[a-z_]+\.[a-z_]+)$/)
  })
})

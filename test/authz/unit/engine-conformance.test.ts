import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createPolicyEngine } from '../../../src/authz/engine/index.ts'
import { cases, storeOf } from './conformance-cases.ts'

const models = Object.values(cases.models)

describe('upstream Casbin cases through the engine', () => {
  it('reads the 525 cases, 510 of which node-casbin 5.51.1 agrees with', () => {
    const all = models.flatMap((m) => m.cases)
    expect(all).toHaveLength(cases.meta.total_cases)
    expect(all).toHaveLength(525)
    expect(all.filter((c) => c.node_casbin_agrees)).toHaveLength(510)
  })

  it.each(models.map((m) => [m.id, m] as const))(
    '%s: check gives the upstream answer wherever node-casbin agrees',
    async (_id, m) => {
      const engine = await createPolicyEngine(storeOf(m))
      const wrong = m.cases
        .filter((c) => c.node_casbin_agrees)
        .map((c) => ({ request: c.request, expected: c.expected, got: engine.check([...c.request]).allowed }))
        .filter((r) => r.got !== r.expected)
      expect(wrong).toEqual([])
    },
  )

  it.each(models.map((m) => [m.id, m] as const))(
    '%s: check and plain enforce give the same decision and matched line on every case',
    async (_id, m) => {
      const engine = await createPolicyEngine(storeOf(m))
      for (const c of m.cases) {
        expect(engine.check([...c.request]), JSON.stringify(c.request)).toEqual(engine.checkPlain([...c.request]))
        // what node-casbin 5.51.1 itself answered when the cases were recorded
        if (typeof c.node_casbin_5_51_1 === 'boolean')
          expect(engine.check([...c.request]).allowed).toBe(c.node_casbin_5_51_1)
      }
    },
  )

  it('answers most upstream models through the index', async () => {
    const modes = await Promise.all(
      models.map(async (m) => [m.id, (await createPolicyEngine(storeOf(m))).mode] as const),
    )
    const indexed = modes.filter(([, mode]) => mode.kind === 'indexed').map(([id]) => id)
    // the shapes the issue names must be indexed
    for (const id of [
      'basic_acl',
      'acl_superuser',
      'rbac',
      'rbac_domains',
      'rbac_deny_override',
      'deny_only',
      'priority',
      'rbac_resource_roles',
      'rbac_with_pattern_g_keyMatch2_g2_keyMatch2',
      'rbac_domain_pattern',
      'derived_keymatch2',
    ]) {
      expect(indexed).toContain(id)
    }
    // and the ones it must not: eval(), no policy lines, no policy field in the matcher
    for (const id of [
      'abac_rule_eval',
      'eval_operator',
      'basic_acl_no_policy',
      'abac_owner',
      'abac_not_using_policy',
    ]) {
      expect(indexed).not.toContain(id)
    }
    expect(indexed.length).toBeGreaterThanOrEqual(38)
  })
})

describe('shipped models', () => {
  it.each(['acl.conf', 'rbac.conf', 'rbac-with-deny.conf', 'rbac-with-domains.conf', 'restful.conf', 'abac.conf'])(
    '%s takes the fast path',
    async (file) => {
      const modelText = fs.readFileSync(path.resolve(import.meta.dirname, '../../../policies', file), 'utf8')
      const arity = /^p\s*=\s*(.*)$/m.exec(modelText)![1]!.split(',').length
      const engine = await createPolicyEngine({
        modelText,
        policyLines: [
          [
            'p',
            ...Array.from({ length: arity }, (_, i) => (i === arity - 1 && /eft/.test(modelText) ? 'allow' : `v${i}`)),
          ],
        ],
      })
      expect(engine.mode.kind).toBe('indexed')
    },
  )
})

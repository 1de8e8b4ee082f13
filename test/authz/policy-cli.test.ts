import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli } from '../helpers/cli.ts'

let dir: string
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-policy-'))
})
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true })
})

const run = (args: string[], env: Record<string, string> = {}) => runCli(args, { LOG_LEVEL: 'silent', ...env })

const policyFile = (cases: string) => `
name: docs
model: rbac.conf
policy: |
  p, reader, doc1, read
  g, alice, reader
cases:
${cases}
`

describe('portcullis policy', () => {
  it('test: passes a table that matches, and exits 1 naming each mismatch', async () => {
    const good = path.join(dir, 'good.yaml')
    await fs.writeFile(
      good,
      policyFile(
        '  - { request: [alice, doc1, read], expect: allow }\n  - { request: [bob, doc1, read], expect: deny }',
      ),
    )
    const ok = await run(['policy', 'test', good])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('2 passed, 0 failed')

    const bad = path.join(dir, 'bad.yaml')
    await fs.writeFile(
      bad,
      policyFile(
        '  - { request: [alice, doc1, write], expect: allow, name: alice writes }\n  - { request: [alice, doc1, read], expect: allow }',
      ),
    )
    const failed = await run(['policy', 'test', bad])
    expect(failed.code).toBe(1)
    expect(failed.stdout).toContain('FAIL')
    expect(failed.stdout).toContain('alice writes')
    expect(failed.stdout).toContain('1 passed, 1 failed')
  })

  it('test: a malformed file is a usage error (exit 2) with the reason', async () => {
    const broken = path.join(dir, 'broken.yaml')
    await fs.writeFile(broken, 'model: rbac.conf\ncases:\n  - { request: [a], expect: maybe }\n')
    const r = await run(['policy', 'test', broken])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/cases\.0\.expect/)
  })

  it('apply: commits a version only when the cases pass and the store changed', async () => {
    const env = { DATA_DIR: path.join(dir, 'data') }
    const file = path.join(dir, 'apply.yaml')
    await fs.writeFile(file, policyFile('  - { request: [alice, doc1, read], expect: allow }'))
    const first = await run(['policy', 'apply', file, '--reason', 'first'], env)
    expect(first.stdout + first.stderr).toContain('committed version 1')
    expect(first.code).toBe(0)
    const again = await run(['policy', 'apply', file], env)
    expect(again.stdout).toContain('unchanged (version 1)')
    await fs.writeFile(file, policyFile('  - { request: [alice, doc1, write], expect: allow }'))
    const refused = await run(['policy', 'apply', file], env)
    expect(refused.code).toBe(1)
    expect(refused.stdout).toContain('not applied')
  })
})

import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testContainer } from '../helpers/container.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { exportDocument } from '../../src/declarative/export.ts'
import { apikeysCommand } from '../../src/apikeys/cli.ts'
import type { IssuedFromImport } from '../../src/apikeys/declarative.ts'

/** API keys from the CLI (`portcullis apikeys ...`) and the import document (`api_keys`). */
let t: Awaited<ReturnType<typeof testContainer>>
beforeAll(async () => {
  t = await testContainer()
})
afterAll(async () => {
  await t?.dispose()
})

const DOC = {
  clients: [
    {
      client_id: 'billing',
      client_secret: 'billing-secret-0123456789',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'authz:check',
    },
  ],
  users: [{ email: 'bob@example.com', roles: ['authz:check'] }],
  api_keys: [
    {
      owner: 'client:billing',
      name: 'ci',
      scopes: ['authz:check'],
      level: 'HIGH',
      allowed_ips: ['10.0.0.0/8'],
      expires_in_days: 60,
    },
    { owner: 'user:bob@example.com', name: 'laptop', scopes: ['authz:check'], level: 'LOW' },
  ],
}

describe('import and export', () => {
  it('issues keys once (secrets handed out, never stored), re-import is a no-op, export has no secrets', async () => {
    const { doc, problems } = await validateDocument(t.c, DOC)
    expect(problems).toEqual([])
    const issued: IssuedFromImport[] = []
    const summary = await applyDocument(t.c, doc!, 'test', { onKeyIssued: (k) => issued.push(k) })
    expect(summary.api_keys).toBe(2)
    expect(issued.map((k) => k.name)).toEqual(['ci', 'laptop'])
    expect(issued[0]!.key).toMatch(/^pcs_/)
    const again: IssuedFromImport[] = []
    await applyDocument(t.c, (await validateDocument(t.c, DOC)).doc!, 'test', { onKeyIssued: (k) => again.push(k) })
    expect(again).toEqual([])
    expect(await t.c.apikeys.list()).toHaveLength(2)
    const exported = await exportDocument(t.c)
    expect(exported.api_keys).toEqual([
      expect.objectContaining({
        owner: 'client:billing',
        name: 'ci',
        scopes: ['authz:check'],
        level: 'HIGH',
        allowed_ips: ['10.0.0.0/8'],
      }),
      expect.objectContaining({ owner: 'user:bob@example.com', name: 'laptop', level: 'LOW' }),
    ])
    expect(JSON.stringify(exported)).not.toContain(issued[0]!.key.slice(21, 60))
    // The export imports back without problems and without issuing anything.
    const roundTrip = await validateDocument(t.c, { api_keys: exported.api_keys })
    expect(roundTrip.problems).toEqual([])
  })

  it('reports every problem with its path and applies nothing', async () => {
    const { problems } = await validateDocument(t.c, {
      api_keys: [
        { owner: 'client:billing', name: 'ci', scopes: ['authz:admin'], level: 'HIGH' },
        { owner: 'client:billing', name: 'ci', scopes: ['authz:check'], level: 'LOW' },
        { owner: 'client:ghost', name: 'x', level: 'LOW' },
        { owner: 'client:billing', name: 'new', level: 'CRITICAL', allowed_ips: ['10.0.0.0/99'] },
        { owner: 'billing', name: 'y' },
      ],
    })
    const text = problems.map((p) => `${p.path}: ${p.message}`).join('\n')
    expect(text).toMatch(/api_keys\.4\.owner/)
    expect(problems.length).toBeGreaterThanOrEqual(1)
    const { problems: p2 } = await validateDocument(t.c, {
      api_keys: [
        { owner: 'client:billing', name: 'ci', scopes: ['authz:admin'], level: 'HIGH' },
        { owner: 'client:billing', name: 'ci', scopes: ['authz:check'], level: 'LOW' },
        { owner: 'client:ghost', name: 'x', level: 'LOW' },
        { owner: 'client:billing', name: 'new', level: 'CRITICAL', allowed_ips: ['10.0.0.0/99'] },
      ],
    })
    const t2 = p2.map((p) => `${p.path}: ${p.message}`).join('\n')
    expect(t2).toMatch(/api_keys\.0: .*scopes cannot change/)
    expect(t2).toMatch(/api_keys\.1: duplicate key/)
    expect(t2).toMatch(/api_keys\.1: .*lowered by issuing a new key/)
    expect(t2).toMatch(/api_keys\.2: no client ghost/)
    expect(t2).toMatch(/api_keys\.3: allowed_ips/)
    expect(t2).toMatch(/api_keys\.3: .*signed requests/)
  })
})

describe('portcullis apikeys', () => {
  const run = async (...argv: string[]) => {
    let text = ''
    const code = await apikeysCommand(t.c, argv, (s) => {
      text += s
    })
    return { code, text }
  }

  it('create prints the key once; list, rotate and revoke work by id', async () => {
    const created = await run(
      'create',
      '--owner',
      'client:billing',
      '--name',
      'deploy',
      '--scopes',
      'authz:check',
      '--level',
      'medium',
      '--expires-in',
      '30d',
      '--rate-limit',
      '100',
    )
    expect(created.code).toBe(0)
    const key = /^\s+(pcs_\S+)$/m.exec(created.text)![1]!
    const id = key.slice(4, 20)
    const listed = await run('list', '--owner', 'client:billing')
    expect(listed.text).toContain(id)
    expect(listed.text).not.toContain(key)
    const rotated = await run('rotate', id, '--grace', '1h')
    expect(rotated.text).toMatch(/old key \w+ works until/)
    expect((await t.c.apikeys.get(id))!.rotatedTo).toBeTruthy()
    expect((await run('revoke', id)).text).toBe(`revoked ${id}\n`)
    expect((await t.c.apikeys.get(id))!.revokedAt).toBeTruthy()
    const hmac = await run(
      'create',
      '--owner',
      'client:billing',
      '--name',
      'crit',
      '--level',
      'CRITICAL',
      '--allow-ip',
      '10.0.0.0/8',
      '--signing',
      'hmac-sha256',
    )
    expect(hmac.text).toMatch(/signing secret/)
  })

  it('bad arguments are usage errors', async () => {
    await expect(run('create', '--name', 'x')).rejects.toThrow(/--owner/)
    await expect(run('create', '--owner', 'client:billing', '--name', 'x', '--level', 'HUGE')).rejects.toThrow(
      /--level/,
    )
    await expect(run('create', '--owner', 'client:billing', '--name', 'x', '--expires-in', 'soon')).rejects.toThrow(
      /duration/,
    )
    await expect(run('frobnicate')).rejects.toThrow(/unknown apikeys subcommand/)
    await expect(run('rotate')).rejects.toThrow(/needs a key ID/)
    await expect(run('revoke', 'AAAAAAAAAAAAAAAA')).rejects.toThrow(/no API key/)
  })
})

import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import YAML from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { importFile } from '../../src/declarative/apply.ts'
import { exportDocument, formatDocument } from '../../src/declarative/export.ts'
import { AppError } from '../../src/errors.ts'
import { hashPassword } from '../../src/identity/passwords.ts'
import { testContainer } from '../helpers/container.ts'

let t: Awaited<ReturnType<typeof testContainer>>
let dir: string
const write = async (name: string, content: string) => {
  const file = path.join(dir, name)
  await fs.writeFile(file, content)
  return file
}

beforeAll(async () => {
  t = await testContainer()
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pc-import-'))
})
afterAll(async () => {
  await t?.dispose()
  await fs.rm(dir, { recursive: true, force: true })
})

const validYaml = async () => `
resources:
  - indicator: https://api.example.com
    scopes: [orders:read, orders:write]
    access_token_format: jwt
    access_token_ttl: 600
clients:
  - client_id: billing
    client_secret: billing-secret-0123456789
    grant_types: [client_credentials]
    response_types: []
    scope: orders:read
  - client_id: web
    client_secret: web-secret-0123456789abcdef
    redirect_uris: [https://app.example.com/cb]
    post_logout_redirect_uris: [https://app.example.com/]
    grant_types: [authorization_code, refresh_token]
policy_stores:
  - name: orders
    model: rbac.conf
    policy: |
      p, clerk, orders, read
      g, ann, clerk
users:
  - email: Ann@Example.com
    password: quiet river lamp orbit
    name: Ann
    roles: [admin]
    attributes: { department: finance }
  - email: bob@example.com
    password_hash: '${await hashPassword('bob password here 1')}'
`

describe('declarative import and export', () => {
  it('applies clients, users and resources, storing secrets hashed', async () => {
    const file = await write('ok.yaml', await validYaml())
    expect(await importFile(t.c, file)).toEqual({ clients: 2, users: 2, resources: 1, policy_stores: 1 })

    const billing = await t.c.clients.find('billing')
    expect(billing?.secretHash).toMatch(/^\$argon2id\$/)
    expect(JSON.stringify(billing)).not.toContain('billing-secret-0123456789')
    expect(billing?.metadata.grant_types).toEqual(['client_credentials'])

    const ann = await t.c.users.findByEmail('ann@example.com')
    expect(ann?.roles).toEqual(['admin'])
    expect(ann?.attributes).toEqual({ department: 'finance' })
    expect((await t.c.users.login('ann@example.com', 'quiet river lamp orbit')).ok).toBe(true)
    expect((await t.c.users.login('bob@example.com', 'bob password here 1')).ok).toBe(true)

    expect(await t.c.resources.find('https://api.example.com')).toEqual({
      indicator: 'https://api.example.com',
      scopes: ['orders:read', 'orders:write'],
      scopeDetails: {},
      accessTokenFormat: 'jwt',
      accessTokenTtl: 600,
      accessTokenSigningAlg: 'ES256',
    })
    const store = await t.c.authz.stores.current('orders')
    expect(store.version).toBe(1)
    expect(t.c.authz.decide.check('orders', ['ann', 'orders', 'read']).allowed).toBe(true)
    expect(t.c.authz.decide.check('orders', ['bob', 'orders', 'read']).allowed).toBe(false)
    const events = await t.c.audit.list({ action: 'config.imported' })
    expect(events[0]?.details).toEqual({ clients: 2, users: 2, resources: 1, policy_stores: 1 })
  })

  it('is idempotent: a second import changes nothing and keeps hashes', async () => {
    const before = await t.c.clients.find('billing')
    const annBefore = await t.c.users.findByEmail('ann@example.com')
    await importFile(t.c, await write('again.yaml', await validYaml()))
    expect((await t.c.clients.list()).length).toBe(2)
    expect((await t.c.users.list()).length).toBe(2)
    expect((await t.c.clients.find('billing'))?.secretHash).toBe(before?.secretHash)
    expect((await t.c.users.findByEmail('ann@example.com'))?.passwordHash).toBe(annBefore?.passwordHash)
    expect((await t.c.authz.stores.current('orders')).version).toBe(1) // no new policy version
  })

  it('audits client changes: who, which client, before/after of the changed fields, never the secret', async () => {
    const created = await t.c.audit.list({ action: 'client.created' })
    expect(created.map((e) => e.target).sort()).toEqual(['billing', 'web'])
    expect(created.find((e) => e.target === 'billing')?.details).toMatchObject({
      before: null,
      client_authentication_changed: true,
      after: { scope: 'orders:read' },
    })
    // the idempotent re-import above recorded no client change
    expect(await t.c.audit.list({ action: 'client.updated' })).toEqual([])

    const changed = (await validYaml()).replace(
      'redirect_uris: [https://app.example.com/cb]',
      'redirect_uris: [https://app.example.com/cb, https://app.example.com/cb2]',
    )
    await importFile(t.c, await write('changed.yaml', changed), 'ops@example.com')
    const updated = await t.c.audit.list({ action: 'client.updated' })
    expect(updated).toHaveLength(1)
    expect(updated[0]).toMatchObject({
      actor: 'ops@example.com',
      target: 'web',
      details: {
        fields: ['redirect_uris'],
        before: { redirect_uris: ['https://app.example.com/cb'] },
        after: { redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb2'] },
        client_authentication_changed: false,
      },
    })
    expect(JSON.stringify([...created, ...updated])).not.toMatch(/secret-0123456789/)
  })

  it('rejects an invalid file whole, listing every problem with its path, and applies nothing', async () => {
    const bad = {
      resources: [{ indicator: 'not a uri' }],
      clients: [
        {
          client_id: 'new-client',
          client_secret: 'new-client-secret-0123',
          redirect_uris: ['https://ok.example.com/cb'],
        },
        { client_id: 'nosecret', grant_types: ['client_credentials'], response_types: [] },
      ],
      users: [
        { email: 'not-an-email', password: 'x' },
        { email: 'c@example.com', password_hash: 'plain' },
      ],
      policy_stores: [
        { name: 'acl', model: 'acl.conf', policy: 'p, alice, data1' },
        { name: 'Bad Name', model: 'acl.conf' },
      ],
      surprise: true,
    }
    const file = await write('bad.json', JSON.stringify(bad))
    const err = await importFile(t.c, file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    const problems = (err as AppError).details as { path: string; message: string }[]
    const paths = problems.map((p) => p.path)
    expect(paths).toEqual(
      expect.arrayContaining([
        'resources.0.indicator',
        'clients.1.client_secret',
        'users.0.email',
        'users.1.password_hash',
        '(root)',
        'policy_stores.1.name',
      ]),
    )
    expect((err as AppError).message).toContain('was not applied')
    // nothing from the valid parts was applied
    expect(await t.c.clients.find('new-client')).toBeNull()
  })

  it('refuses a policy store whose lines have the wrong arity or a hazardous pattern, naming each line', async () => {
    const file = await write(
      'bad-policy.yaml',
      [
        'policy_stores:',
        '  - name: rest',
        '    model: restful.conf',
        '    policy: |',
        '      p, alice, /orders/:id, GET',
        '      p, bob, /orders',
        '      p, eve, /:/all, GET',
      ].join('\n'),
    )
    const err = await importFile(t.c, file).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AppError)
    const problems = (err as AppError).details as { path: string; message: string }[]
    expect(
      problems.every((p) => p.path === 'policy_stores.0'),
      JSON.stringify(problems),
    ).toBe(true)
    expect(
      problems.some((p) => /line 2/.test(p.message)),
      JSON.stringify(problems),
    ).toBe(true)
    expect(
      problems.some((p) => /line 3/.test(p.message) && p.message.includes('/:/all')),
      JSON.stringify(problems),
    ).toBe(true)
    expect((await t.c.authz.stores.list()).map((s) => s.name)).not.toContain('rest')
  })

  it('reports oidc-provider metadata problems (e.g. a redirect URI with a fragment)', async () => {
    const file = await write(
      'frag.yaml',
      'clients:\n  - client_id: frag\n    client_secret: frag-secret-0123456789\n    redirect_uris: ["https://app.example.com/cb#x"]\n',
    )
    const err = (await importFile(t.c, file).catch((e: unknown) => e)) as AppError
    expect(err.code).toBe('import_invalid')
    expect((err.details as { path: string }[])[0]?.path).toBe('clients.0')
    expect(await t.c.clients.find('frag')).toBeNull()
  })

  it('reports a syntax error instead of throwing', async () => {
    const err = (await importFile(t.c, await write('broken.yaml', 'clients: [\n')).catch((e: unknown) => e)) as AppError
    expect(err.code).toBe('import_invalid')
    expect(err.message).toMatch(/not valid JSON or YAML/)
  })

  it('exports the same document back without secrets, and the export re-imports', async () => {
    const doc = await exportDocument(t.c)
    const text = formatDocument(doc, 'yaml')
    expect(text).not.toMatch(/secret-0123|argon2|password/)
    expect(doc.clients.map((c) => c.client_id)).toEqual(['billing', 'web'])
    expect(doc.users.find((u) => u.email === 'ann@example.com')).toMatchObject({
      name: 'Ann',
      roles: ['admin'],
      attributes: { department: 'finance' },
    })
    expect(doc.resources).toEqual([
      {
        indicator: 'https://api.example.com',
        scopes: ['orders:read', 'orders:write'],
        access_token_format: 'jwt',
        access_token_ttl: 600,
        access_token_signing_alg: 'ES256',
      },
    ])
    // Without secrets, confidential clients cannot be re-created from an export alone; users and
    // resources can, and re-importing them is a no-op.
    const reimport = { users: doc.users, resources: doc.resources }
    await importFile(t.c, await write('re.yaml', YAML.stringify(reimport)))
    expect((await t.c.users.list()).length).toBe(2)
  })

  it('disables and enables accounts (sessions end, audited) and exports the state', async () => {
    const bob = (await t.c.users.findByEmail('bob@example.com'))!
    await t.c.login.sessions.create({ userId: bob.id, amr: ['pwd'], acr: 'urn:portcullis:acr:pwd' })
    expect(await t.c.login.sessions.list(bob.id)).toHaveLength(1)
    await importFile(
      t.c,
      await write('off.yaml', YAML.stringify({ users: [{ email: 'bob@example.com', disabled: true }] })),
    )
    expect((await t.c.users.findByEmail('bob@example.com'))!.disabled).toBe(true)
    expect(await t.c.users.login('bob@example.com', 'bob password here 1')).toMatchObject({
      ok: false,
      reason: 'disabled',
    })
    expect(await t.c.login.sessions.list(bob.id)).toHaveLength(0)
    expect((await t.c.audit.list({ action: 'user.disabled' })).at(-1)).toMatchObject({
      actor: 'import',
      target: bob.id,
    })
    const exported = await exportDocument(t.c)
    expect(exported.users.find((u) => u.email === 'bob@example.com')).toMatchObject({ disabled: true })
    expect(exported.users.find((u) => u.email === 'ann@example.com')).not.toHaveProperty('disabled')
    // Leaving `disabled` out changes nothing; false enables.
    await importFile(
      t.c,
      await write('same.yaml', YAML.stringify({ users: [{ email: 'bob@example.com', name: 'Bob' }] })),
    )
    expect((await t.c.users.findByEmail('bob@example.com'))!.disabled).toBe(true)
    await importFile(
      t.c,
      await write('on.yaml', YAML.stringify({ users: [{ email: 'bob@example.com', disabled: false }] })),
    )
    expect(await t.c.users.login('bob@example.com', 'bob password here 1')).toMatchObject({ ok: true })
    // A new user can be created disabled.
    await importFile(
      t.c,
      await write(
        'new.yaml',
        YAML.stringify({
          users: [{ email: 'carl@example.com', password: 'a long passphrase for carl', disabled: true }],
        }),
      ),
    )
    expect(await t.c.users.login('carl@example.com', 'a long passphrase for carl')).toMatchObject({
      ok: false,
      reason: 'disabled',
    })
  })
})

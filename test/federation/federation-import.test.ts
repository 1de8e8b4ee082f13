import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { exportDocument } from '../../src/declarative/export.ts'
import { identityProviderEntry, resolveProvider } from '../../src/federation/schema.ts'
import { claimAt } from '../../src/federation/upstream.ts'
import { testContainer } from '../helpers/container.ts'

/**
 * Upstream identity providers in the import file (issue 14 §6): presets, validation with a
 * message per bad field, secrets sealed at rest and never exported, idempotent re-import.
 */
let t: Awaited<ReturnType<typeof testContainer>>
beforeAll(async () => {
  t = await testContainer()
})
afterAll(async () => {
  await t?.dispose()
})

const problemsOf = async (providers: unknown[]) =>
  (await validateDocument(t.c, { identity_providers: providers })).problems

describe('identity_providers in the import file', () => {
  it('accepts each preset with only its credentials, and fills in endpoints, scopes and claims', async () => {
    const entries = [
      { alias: 'google', preset: 'google', client_id: 'g.apps.googleusercontent.com', client_secret: 'g-secret' },
      {
        alias: 'entra',
        preset: 'microsoft',
        tenant: '0d8f6c1e-1111-2222-3333-444455556666',
        client_id: 'app-id',
        client_secret: 'e-secret',
      },
      { alias: 'github', preset: 'github', client_id: 'Iv1.abc', client_secret: 'gh-secret' },
      { alias: 'gitlab', preset: 'gitlab', client_id: 'gl-app', client_secret: 'gl-secret' },
    ]
    expect(await problemsOf(entries)).toEqual([])
    const [google, entra, github, gitlab] = entries.map((e) => resolveProvider(identityProviderEntry.parse(e)))
    expect(google).toMatchObject({
      type: 'oidc',
      issuer: 'https://accounts.google.com',
      displayName: 'Google',
      scopes: ['openid', 'email', 'profile'],
      pkce: true,
      trustEmail: false,
    })
    expect(entra).toMatchObject({
      type: 'oidc',
      issuer: 'https://login.microsoftonline.com/0d8f6c1e-1111-2222-3333-444455556666/v2.0',
      claims: { roles: 'roles' },
    })
    expect(github).toMatchObject({
      type: 'oauth2',
      userinfoEndpoint: 'https://api.github.com/user',
      emailsEndpoint: 'https://api.github.com/user/emails',
      claims: { subject: 'id' },
      scopes: ['read:user', 'user:email'],
    })
    expect(gitlab).toMatchObject({ type: 'oidc', issuer: 'https://gitlab.com', claims: { roles: 'groups' } })
  })

  it('names every bad field: missing issuer or tenant, multi-tenant Entra, http to another host, missing secret, bad alias, control characters', async () => {
    const problems = await problemsOf([
      { alias: 'Bad Alias', issuer: 'https://idp.example.com', client_id: 'x', client_secret: 's' },
      { alias: 'noissuer', client_id: 'x', client_secret: 's' },
      { alias: 'entra', preset: 'microsoft', client_id: 'x', client_secret: 's' },
      { alias: 'entra2', preset: 'microsoft', tenant: 'common', client_id: 'x', client_secret: 's' },
      { alias: 'plain', issuer: 'http://idp.example.com', client_id: 'x', client_secret: 's' },
      { alias: 'nosecret', issuer: 'https://idp.example.com', client_id: 'x' },
      {
        alias: 'pkjwt',
        issuer: 'https://idp.example.com',
        client_id: 'x',
        token_endpoint_auth_method: 'private_key_jwt',
        private_key_jwk: { kty: 'EC', crv: 'P-256', x: 'a', y: 'b' },
      },
      { alias: 'oauth', type: 'oauth2', client_id: 'x', client_secret: 's' },
      {
        alias: 'ctl',
        issuer: 'https://idp.example.com',
        client_id: 'x\u0000y',
        client_secret: 's',
        display_name: 'a\nb',
      },
      { alias: 'typo', issuer: 'https://idp.example.com', client_id: 'x', client_secret: 's', scope: 'openid' },
    ])
    const at = (path: string) => problems.filter((p) => p.path === path).map((p) => p.message)
    expect(at('identity_providers.0.alias')).toHaveLength(1)
    expect(at('identity_providers.1.issuer')[0]).toMatch(/required/)
    expect(at('identity_providers.2.issuer')[0]).toMatch(/tenant/)
    expect(at('identity_providers.3.tenant')[0]).toMatch(/common/)
    expect(at('identity_providers.4.issuer')[0]).toMatch(/https/)
    expect(at('identity_providers.5.client_secret')[0]).toMatch(/required/)
    expect(at('identity_providers.6.private_key_jwk')[0]).toMatch(/private key/)
    expect(at('identity_providers.7.authorization_endpoint')).toHaveLength(1)
    expect(at('identity_providers.7.userinfo_endpoint')).toHaveLength(1)
    expect(at('identity_providers.8.client_id')).toHaveLength(1)
    expect(at('identity_providers.8.display_name')).toHaveLength(1)
    expect(problems.some((p) => p.path.startsWith('identity_providers.9'))).toBe(true)
    // duplicates by alias
    const dup = await problemsOf([
      { alias: 'same', preset: 'google', client_id: 'a', client_secret: 's' },
      { alias: 'same', preset: 'gitlab', client_id: 'b', client_secret: 's' },
    ])
    expect(dup).toEqual([{ path: 'identity_providers.1.alias', message: 'duplicate alias same' }])
  })

  it('seals the client secret and private key at rest, never exports them, and re-imports idempotently', async () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
      kid: 'k1',
    }
    const doc = {
      identity_providers: [
        {
          alias: 'corp',
          preset: 'google',
          client_id: 'corp-id',
          client_secret: 'very-secret-value-123',
          default_roles: ['member'],
        },
        { alias: 'corpkey', issuer: 'https://idp.example.com', client_id: 'k', private_key_jwk: jwk },
      ],
    }
    const v = await validateDocument(t.c, doc)
    expect(v.problems).toEqual([])
    const summary = await applyDocument(t.c, v.doc!)
    expect(summary.identity_providers).toBe(2)
    const rows = await t.c.db.identityProvider.findMany({ orderBy: { alias: 'asc' } })
    expect(rows).toHaveLength(2)
    for (const r of rows) expect(JSON.stringify(r)).not.toMatch(/very-secret-value-123|jpsQnnGQmL/)
    expect(rows[0]!.secret).toMatch(/^v1\./)
    expect(rows[1]!.privateKey).toMatch(/^v1\./)
    const exported = await exportDocument(t.c)
    expect(exported.identity_providers).toEqual([
      expect.objectContaining({ alias: 'corp', preset: 'google', client_id: 'corp-id', default_roles: ['member'] }),
      expect.objectContaining({ alias: 'corpkey', issuer: 'https://idp.example.com' }),
    ])
    expect(JSON.stringify(exported)).not.toMatch(/very-secret-value-123|jpsQnnGQmL|client_secret|private_key_jwk/)
    const created = (await t.c.audit.list({ action: 'identity_provider.created', limit: 100 })).map((e) => e.target)
    expect(created.sort()).toEqual(['corp', 'corpkey'])
    // The same file again changes nothing; a new secret is an update.
    await applyDocument(t.c, (await validateDocument(t.c, doc)).doc!)
    expect(await t.c.audit.list({ action: 'identity_provider.updated', limit: 100 })).toEqual([])
    const changed = { identity_providers: [{ ...doc.identity_providers[0], client_secret: 'another-secret-456' }] }
    await applyDocument(t.c, (await validateDocument(t.c, changed)).doc!)
    const updated = await t.c.audit.list({ action: 'identity_provider.updated', limit: 100 })
    expect(updated.map((e) => [e.target, e.details.client_authentication_changed])).toEqual([['corp', true]])
    expect(JSON.stringify(updated)).not.toMatch(/another-secret-456/)
    // The sign-in page lists both, by display name.
    expect(await t.c.federation.buttons()).toEqual([
      { alias: 'corp', displayName: 'Google' },
      { alias: 'corpkey', displayName: 'corpkey' },
    ])
  })

  it('reads nested claims by dotted path, a flat claim with dots first', () => {
    expect(claimAt({ realm_access: { roles: ['a'] } }, 'realm_access.roles')).toEqual(['a'])
    expect(claimAt({ 'https://x.example/roles': ['b'] }, 'https://x.example/roles')).toEqual(['b'])
    expect(claimAt({ a: 1 }, 'a.b.c')).toBeUndefined()
  })
})

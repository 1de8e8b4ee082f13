import type { FederationService } from '../federation/service.ts'
import type { StoredProvider } from '../federation/queries.ts'
import { callerLabel, type AdminAuthority, type AdminCaller } from './authority.ts'
import { adminError, invalidInput } from './errors.ts'
import { etagOf } from './shared.ts'

/** What an administrator sees of a provider: the import file's entry without secrets, and which secrets are stored. */
export interface ProviderView {
  alias: string
  config: Record<string, unknown>
  hasClientSecret: boolean
  hasPrivateKey: boolean
  updatedAt: Date
  etag: string
}

export const providerView = (s: StoredProvider): ProviderView => ({
  alias: s.alias,
  config: JSON.parse(s.config) as Record<string, unknown>,
  hasClientSecret: s.secret !== null,
  hasPrivateKey: s.privateKey !== null,
  updatedAt: s.updatedAt,
  // the sealed values change with every new secret (fresh IV), so a rotation changes the tag
  etag: etagOf([s.alias, s.config, s.secret, s.privateKey, s.updatedAt.toISOString()]),
})

export interface IdpDeps {
  federation: FederationService
  /** tell every instance that configuration changed (their provider caches reload) */
  configChanged(): Promise<void>
}

/**
 * Upstream identity providers through the admin API (issue 14 §6: "configured in the import file
 * and the admin API"): the import file's entry and presets (federation/schema.ts), secrets sealed
 * with the master key and never returned, decided by the `system` store (`idps:read`,
 * `idps:write`), audited with before/after of the entry (never a secret), and announced so
 * that every instance's sign-in page and callbacks see the change at once.
 */
export function adminIdentityProviders(deps: IdpDeps, authority: AdminAuthority) {
  const f = deps.federation

  async function find(alias: string): Promise<StoredProvider> {
    const s = await f.storedProvider(alias)
    if (!s) throw adminError('not_found', `no identity provider ${alias}`)
    return s
  }

  function check(input: unknown, stored?: StoredProvider) {
    if (typeof input !== 'object' || input === null || Array.isArray(input))
      throw invalidInput([{ path: [], message: 'must be an object (an identity_providers entry)' }])
    const r = f.checkEntry(input as Record<string, unknown>, stored)
    if (!r.ok) throw invalidInput(r.issues)
    return r.entry
  }

  return {
    find,
    view: providerView,

    async list(caller: AdminCaller) {
      await authority.require(caller, 'idps:read')
      return { items: (await f.storedProviders()).map(providerView) }
    },

    async read(caller: AdminCaller, alias: string) {
      await authority.require(caller, 'idps:read')
      return providerView(await find(alias))
    },

    async create(caller: AdminCaller, input: unknown) {
      await authority.require(caller, 'idps:write')
      const entry = check(input)
      const saved = await f.saveProvider(entry, callerLabel(caller))
      if (!saved) throw adminError('provider_exists', `an identity provider with the alias ${entry.alias} exists`)
      await deps.configChanged()
      return providerView(saved)
    },

    /**
     * Replaces the entry (secrets left out are kept). With `ifMatch` (the ETag read) the write
     * happens only if nobody changed the provider since; a change in between is a 412 as well.
     */
    async update(caller: AdminCaller, alias: string, input: unknown, ifMatch?: string) {
      await authority.require(caller, 'idps:write')
      const before = await find(alias)
      if (ifMatch !== undefined && ifMatch !== providerView(before).etag)
        throw adminError(
          'precondition_failed',
          `identity provider ${alias} changed since ${ifMatch} was read (now ${providerView(before).etag})`,
        )
      const body =
        typeof input === 'object' && input !== null && !Array.isArray(input)
          ? (input as Record<string, unknown>)
          : input
      if (body && typeof body === 'object' && 'alias' in body && body.alias !== alias)
        throw invalidInput([
          { path: ['alias'], message: `must be ${alias} (the alias in the path) or left out; an alias cannot change` },
        ])
      const entry = check(body && typeof body === 'object' ? { ...body, alias } : body, before)
      const saved = await f.saveProvider(entry, callerLabel(caller), before)
      if (!saved)
        throw adminError(
          'precondition_failed',
          `identity provider ${alias} changed while this update was being made; read it again`,
        )
      await deps.configChanged()
      return providerView(saved)
    },

    /** Deletes the provider; local accounts keep existing, their links to it go (docs/login.md). */
    async remove(caller: AdminCaller, alias: string) {
      await authority.require(caller, 'idps:write')
      const before = await find(alias)
      const r = await f.deleteProvider(before, callerLabel(caller))
      if (!r)
        throw adminError(
          'precondition_failed',
          `identity provider ${alias} changed while it was being deleted; read it again`,
        )
      await deps.configChanged()
      return r
    },
  }
}
export type AdminIdentityProviders = ReturnType<typeof adminIdentityProviders>

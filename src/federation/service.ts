import type * as oidc from 'openid-client'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { AuditLog } from '../audit/log.ts'
import type { UserService } from '../identity/users.ts'
import type { UserRecord } from '../identity/queries.ts'
import type { Logger } from '../logger.ts'
import type { FederationQueries, StoredProvider } from './queries.ts'
import { identityProviderEntry, resolveProvider, type IdentityProviderEntry, type ResolvedProvider } from './schema.ts'
import { federationErrors, FederationRefused } from './errors.ts'
import {
  authorizationRequest,
  completeAuthorization,
  isNetworkError,
  rpConfiguration,
  type Transaction,
  type UpstreamProfile,
} from './upstream.ts'

export interface FederationDeps {
  queries: FederationQueries
  ring: Keyring
  users: UserService
  audit: AuditLog
  publicUrl: string
  logger: Logger
}

interface Loaded {
  provider: ResolvedProvider
  stored: StoredProvider
}

/** What an upstream identity means here. */
export type Resolution =
  | { kind: 'signin'; user: UserRecord }
  | { kind: 'created'; user: UserRecord }
  /** an account with the verified email exists: the person must prove it before the link is made */
  | { kind: 'link'; user: UserRecord }

const CACHE_MS = 5000
const secretContext = (alias: string) => `identity_provider:${alias}:secret`
const keyContext = (alias: string) => `identity_provider:${alias}:private_key`

/** The providers (from the import file, cached for a few seconds) and their discovered configurations. */
function providerCache(deps: FederationDeps) {
  let cache: { at: number; value: Promise<Loaded[]> } | undefined
  const rp = new Map<string, { version: number; config: Promise<oidc.Configuration> }>()

  function loadAll(): Promise<Loaded[]> {
    if (!cache || Date.now() - cache.at > CACHE_MS) {
      const value = deps.queries.listProviders().then((rows) =>
        rows.flatMap((stored) => {
          const parsed = identityProviderEntry.safeParse({ ...JSON.parse(stored.config), ...placeholders(stored) })
          if (!parsed.success) {
            deps.logger.warn(
              { alias: stored.alias, problems: parsed.error.issues.map((i) => i.message) },
              'stored identity provider no longer valid; skipped',
            )
            return []
          }
          return [{ provider: resolveProvider(parsed.data), stored }]
        }),
      )
      cache = { at: Date.now(), value }
      value.catch(() => {
        cache = undefined
      })
    }
    return cache.value
  }

  async function load(alias: string): Promise<Loaded> {
    const found = (await loadAll()).find((l) => l.provider.alias === alias)
    if (!found || !found.provider.enabled) throw federationErrors.unknownProvider()
    return found
  }

  /** The openid-client configuration, discovered once per stored version of the provider. */
  function configOf(l: Loaded): Promise<oidc.Configuration> {
    const version = l.stored.updatedAt.getTime()
    const hit = rp.get(l.provider.alias)
    if (hit && hit.version === version) return hit.config
    const config = rpConfiguration(l.provider, {
      secret: l.stored.secret ? open(deps.ring, l.stored.secret, secretContext(l.provider.alias)) : undefined,
      privateJwk: l.stored.privateKey
        ? (JSON.parse(open(deps.ring, l.stored.privateKey, keyContext(l.provider.alias))) as Record<string, unknown>)
        : undefined,
    }).catch((e: unknown) => {
      rp.delete(l.provider.alias)
      deps.logger.warn({ alias: l.provider.alias, err: (e as Error).message }, 'identity provider discovery failed')
      throw federationErrors.unreachable(l.provider.displayName, e)
    })
    rp.set(l.provider.alias, { version, config })
    return config
  }

  return {
    loadAll,
    load,
    configOf,
    /** the provider list is read again on next use */
    dropList() {
      cache = undefined
    },
    /** one provider changed: the list and its configuration are read again */
    forget(alias: string) {
      cache = undefined
      rp.delete(alias)
    },
    invalidate() {
      cache = undefined
      rp.clear()
    },
  }
}
type ProviderCache = ReturnType<typeof providerCache>

/** Adds the roles the upstream maps to; never removes a role an administrator granted. */
async function applyRoles(deps: FederationDeps, user: UserRecord, profile: UpstreamProfile): Promise<UserRecord> {
  const missing = profile.roles.filter((r) => !user.roles.includes(r))
  if (!missing.length) return user
  return deps.users.update(
    user.id,
    { roles: [...user.roles, ...missing] },
    deps.audit.with(() => ({
      action: 'federation.roles_mapped',
      outcome: 'success',
      actor: `idp:${profile.provider}`,
      target: user.id,
      details: { provider: profile.provider, added: missing },
    })),
  )
}

function emailAllowed(p: ResolvedProvider, email: string) {
  const domain = email.split('@').pop()!
  return !p.allowedEmailDomains || p.allowedEmailDomains.includes(domain)
}

/**
 * What the upstream identity means here. An established link signs its account in; else
 * only a verified email is used: it finds an account to link (after proof) or creates one.
 */
async function resolveProfile(
  deps: FederationDeps,
  load: ProviderCache['load'],
  profile: UpstreamProfile,
): Promise<Resolution> {
  const { provider: p } = await load(profile.provider)
  const link = await deps.queries.findLink(profile.provider, profile.subject)
  if (link) {
    const user = await deps.users.findById(link.userId)
    if (!user) throw new FederationRefused('creation_disabled', 'the linked account no longer exists')
    if (user.disabled) throw new FederationRefused('disabled')
    await deps.queries.touchLink(link.id, profile.email ?? null)
    return { kind: 'signin', user: await applyRoles(deps, user, profile) }
  }
  if (!profile.email) throw new FederationRefused('no_email')
  // Issue 14 §6: an unverified upstream email never links nor creates an account.
  if (!profile.emailVerified) throw new FederationRefused('email_unverified')
  if (!emailAllowed(p, profile.email)) throw new FederationRefused('domain_not_allowed')
  const existing = await deps.users.findByEmail(profile.email)
  if (existing) {
    if (existing.disabled) throw new FederationRefused('disabled')
    if (!p.linkExisting) throw new FederationRefused('linking_disabled')
    return { kind: 'link', user: existing }
  }
  if (!p.createUsers) throw new FederationRefused('creation_disabled')
  let user: UserRecord
  try {
    // Issue 16 §5: the account, its link and the audit record are one transaction.
    user = await deps.users.create(
      { email: profile.email, name: profile.name ?? null, roles: profile.roles, emailVerified: true },
      deps.audit.with((u) => ({
        action: 'federation.user_created',
        outcome: 'success',
        actor: `idp:${profile.provider}`,
        target: u.id,
        details: { provider: profile.provider, email: profile.email, roles: profile.roles },
      })),
      (tx, u) =>
        deps.queries.createLinkIn(tx, {
          provider: profile.provider,
          subject: profile.subject,
          userId: u.id,
          email: profile.email ?? null,
        }),
    )
  } catch (e) {
    // The address was taken meanwhile (a registration, another sign-in): that account needs proof.
    const raced = await deps.users.findByEmail(profile.email)
    if (!raced) throw e
    if (raced.disabled) throw new FederationRefused('disabled')
    if (!p.linkExisting) throw new FederationRefused('linking_disabled')
    return { kind: 'link', user: raced }
  }
  return { kind: 'created', user }
}

/** Links an account the person has just proved to the upstream identity. */
async function linkAccount(
  deps: FederationDeps,
  profile: UpstreamProfile,
  user: UserRecord,
  proof: string,
): Promise<UserRecord> {
  // The upstream vouched for this address and the person proved the account: it is verified,
  // in the link's transaction with its audit record.
  await deps.queries.createLink(
    { provider: profile.provider, subject: profile.subject, userId: user.id, email: profile.email ?? null },
    deps.audit.with(() => ({
      action: 'federation.linked',
      outcome: 'success',
      actor: user.id,
      target: user.id,
      details: { provider: profile.provider, email: profile.email, proof },
    })),
    { verifyEmail: !user.emailVerified },
  )
  const verified = user.emailVerified ? user : ((await deps.users.findById(user.id)) ?? user)
  return applyRoles(deps, verified, profile)
}

/** The providers as administrators manage them: import, the admin API's reads and writes, export. */
function providerAdmin(deps: FederationDeps, providers: ProviderCache) {
  return {
    /** Import: upserts providers by alias, secrets sealed; an entry without a secret keeps the stored one. */
    async importProviders(entries: IdentityProviderEntry[], actor: string) {
      for (const e of entries) {
        const { client_secret, private_key_jwk, ...config } = e
        const before = await deps.queries.findProvider(e.alias)
        const next = {
          alias: e.alias,
          config: JSON.stringify(config),
          secret:
            client_secret !== undefined
              ? seal(deps.ring, client_secret, secretContext(e.alias))
              : (before?.secret ?? null),
          privateKey:
            private_key_jwk !== undefined
              ? seal(deps.ring, JSON.stringify(private_key_jwk), keyContext(e.alias))
              : (before?.privateKey ?? null),
        }
        const secretChanged =
          (client_secret !== undefined &&
            (!before?.secret || open(deps.ring, before.secret, secretContext(e.alias)) !== client_secret)) ||
          (private_key_jwk !== undefined &&
            (!before?.privateKey ||
              open(deps.ring, before.privateKey, keyContext(e.alias)) !== JSON.stringify(private_key_jwk)))
        if (before && before.config === next.config && !secretChanged) continue
        await deps.queries.upsertProvider(next)
        await deps.audit.record({
          action: before ? 'identity_provider.updated' : 'identity_provider.created',
          outcome: 'success',
          actor,
          target: e.alias,
          details: {
            type: resolveProvider(e).type,
            preset: e.preset ?? null,
            client_authentication_changed: secretChanged,
          },
        })
      }
      providers.dropList()
    },

    /** The stored rows (admin API): `config` is the entry without secrets. */
    storedProviders: () => deps.queries.listProviders(),
    storedProvider: (alias: string) => deps.queries.findProvider(alias),

    /**
     * Validates an administrator's entry with the import file's schema. A secret left out keeps
     * the stored one (as an import does), so the "needs a secret" rules see the stored one.
     */
    checkEntry(input: Record<string, unknown>, stored?: StoredProvider | null) {
      const given = { secret: input.client_secret !== undefined, key: input.private_key_jwk !== undefined }
      const kept = stored ? placeholders(stored) : {}
      const r = identityProviderEntry.safeParse({
        ...(given.secret ? {} : pick(kept, 'client_secret')),
        ...(given.key ? {} : pick(kept, 'private_key_jwk')),
        ...input,
      })
      if (!r.success) return { ok: false as const, issues: r.error.issues }
      const entry: IdentityProviderEntry = { ...r.data }
      if (!given.secret) delete entry.client_secret
      if (!given.key) delete entry.private_key_jwk
      return { ok: true as const, entry }
    },

    /**
     * Creates (`before` absent) or replaces a provider as an administrator asked: secrets sealed
     * (a secret left out keeps the stored one), the change and its audit record (before/after of
     * the entry, never a secret) committed together. Null when the alias is taken (create) or
     * the row changed since `before` was read (update).
     */
    async saveProvider(
      entry: IdentityProviderEntry,
      actor: string,
      before?: StoredProvider,
    ): Promise<StoredProvider | null> {
      const { client_secret, private_key_jwk, ...config } = entry
      const data = {
        config: JSON.stringify(config),
        secret:
          client_secret !== undefined
            ? seal(deps.ring, client_secret, secretContext(entry.alias))
            : (before?.secret ?? null),
        privateKey:
          private_key_jwk !== undefined
            ? seal(deps.ring, JSON.stringify(private_key_jwk), keyContext(entry.alias))
            : (before?.privateKey ?? null),
      }
      const authChanged = client_secret !== undefined || private_key_jwk !== undefined
      const record = deps.audit.with((saved: StoredProvider | null) =>
        saved
          ? {
              action: before ? 'identity_provider.updated' : 'identity_provider.created',
              outcome: 'success',
              actor,
              target: entry.alias,
              details: {
                ...(before ? { before: JSON.parse(before.config) as unknown } : {}),
                after: config,
                client_authentication_changed: authChanged,
              },
            }
          : null,
      )
      const saved = before
        ? await deps.queries.updateProviderIf(entry.alias, before.updatedAt, data, record)
        : await deps.queries.createProvider({ alias: entry.alias, ...data }, record)
      providers.forget(entry.alias)
      return saved
    },

    /** Deletes a provider (if unchanged since read) with the links to it; null when it changed or went. */
    async deleteProvider(before: StoredProvider, actor: string): Promise<{ linksRemoved: number } | null> {
      const removed = await deps.queries.deleteProviderIf(
        before.alias,
        before.updatedAt,
        deps.audit.with((links: number | null) =>
          links === null
            ? null
            : {
                action: 'identity_provider.deleted',
                outcome: 'success',
                actor,
                target: before.alias,
                details: { before: JSON.parse(before.config) as unknown, links_removed: links },
              },
        ),
      )
      providers.forget(before.alias)
      return removed === null ? null : { linksRemoved: removed }
    },

    /** For export: the entries without secrets. */
    async exportProviders(): Promise<Record<string, unknown>[]> {
      return (await deps.queries.listProviders()).map((s) => JSON.parse(s.config) as Record<string, unknown>)
    },
  }
}

/**
 * Sign-in through upstream identity providers (issue 14 §6): the providers (from the import
 * file, cached for a few seconds so an import on another instance is seen), the upstream round
 * trip (upstream.ts) and what the upstream identity means for local accounts: a linked account,
 * a new account (just in time), or an existing account to link once the person proves it.
 */
export function federationService(deps: FederationDeps) {
  const providers = providerCache(deps)
  const { loadAll, load, configOf } = providers

  const redirectUri = (alias: string) => `${deps.publicUrl}/federation/${alias}/callback`

  return {
    redirectUri,

    /** The enabled providers, for the sign-in page's buttons. */
    async buttons(): Promise<{ alias: string; displayName: string }[]> {
      try {
        return (await loadAll())
          .filter((l) => l.provider.enabled)
          .map((l) => ({ alias: l.provider.alias, displayName: l.provider.displayName }))
      } catch (e) {
        // the sign-in page still works with a password when this lookup fails
        deps.logger.warn({ err: (e as Error).message }, 'identity providers could not be listed')
        return []
      }
    },

    /** Whether the upstream's `mfa` counts as our second factor (trust_upstream_mfa). */
    async trustsUpstreamMfa(alias: string) {
      return (await load(alias)).provider.trustUpstreamMfa
    },

    async displayName(alias: string) {
      return (await loadAll()).find((l) => l.provider.alias === alias)?.provider.displayName ?? alias
    },

    /** The upstream authorization URL for interaction `uid`, and the transaction to keep. */
    async begin(alias: string, uid: string, loginHint?: string): Promise<{ url: URL; tx: Transaction }> {
      const l = await load(alias)
      return authorizationRequest(l.provider, await configOf(l), redirectUri(alias), uid, loginHint)
    },

    /** The callback: a checked upstream profile, or FederationRefused / a 503 when unreachable. */
    async complete(tx: Transaction, query: string): Promise<UpstreamProfile> {
      const l = await load(tx.alias)
      const config = await configOf(l)
      const url = new URL(redirectUri(tx.alias))
      url.search = query
      try {
        return await completeAuthorization(l.provider, config, url, tx)
      } catch (e) {
        if (isNetworkError(e)) throw federationErrors.unreachable(l.provider.displayName, e)
        throw e
      }
    },

    /**
     * What the upstream identity means here. An established link signs its account in; else
     * only a verified email is used: it finds an account to link (after proof) or creates one.
     */
    resolve: (profile: UpstreamProfile): Promise<Resolution> => resolveProfile(deps, load, profile),

    /** Links an account the person has just proved to the upstream identity. */
    link: (profile: UpstreamProfile, user: UserRecord, proof: string): Promise<UserRecord> =>
      linkAccount(deps, profile, user, proof),

    linksOf: (userId: string) => deps.queries.linksOf(userId),

    ...providerAdmin(deps, providers),

    /** Drops what this instance cached about providers (changed here, elsewhere, or by an import). */
    invalidate() {
      providers.invalidate()
    },
  }
}
export type FederationService = ReturnType<typeof federationService>

/**
 * A stored entry has no secrets in `config`; the schema wants one for its auth method. The
 * presence of the sealed value stands in for it while re-validating what is stored.
 */
const pick = (o: Record<string, unknown>, key: string) => (key in o ? { [key]: o[key] } : {})

function placeholders(s: StoredProvider): Record<string, unknown> {
  return {
    ...(s.secret ? { client_secret: 'sealed' } : {}),
    ...(s.privateKey ? { private_key_jwk: { d: 'sealed' } } : {}),
  }
}

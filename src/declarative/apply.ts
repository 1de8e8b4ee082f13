import type { AuditAction } from '../audit/actions.ts'
import fs from 'node:fs/promises'
import YAML from 'yaml'
import { AppError } from '../errors.ts'
import { hashPassword, verifyPassword } from '../identity/passwords.ts'
import { importDocument, type ImportDocument, type ImportUser } from './schema.ts'
import type { StoreOptions } from '../authz/options.ts'
import {
  applyApiKeys,
  validateApiKeys,
  type ApiKeysDeclarativeDeps,
  type IssuedFromImport,
} from '../apikeys/declarative.ts'
import type { ApiKeyService } from '../apikeys/service.ts'
import type { AuditLog } from '../audit/log.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { FederationService } from '../federation/service.ts'
import type { AccountStatus } from '../identity/account-status.ts'
import type { PasswordResetService } from '../identity/password-reset.ts'
import type { StrongLogin } from '../identity/strong-login.ts'
import type { UserService } from '../identity/users.ts'
import type { ClientService } from '../oidc/clients.ts'
import type { ResourceQueries } from '../oidc/queries/resources.ts'
import { SYSTEM_STORE } from '../admin/authority.ts'
import { safeEqual } from '../crypto/constant-time.ts'

export interface Problem {
  path: string
  message: string
}
export interface ImportSummary {
  clients: number
  users: number
  resources: number
  policy_stores: number
  api_keys?: number
  identity_providers?: number
}
/**
 * What validating and applying an import document needs of the running server (the container
 * has this shape; DESIGN.md "Layout": no feature takes the container).
 */
export type ImportDeps = ApiKeysDeclarativeDeps & {
  apikeys: Pick<ApiKeyService, 'ownersChanged'>
  users: Pick<UserService, 'findByEmail' | 'create' | 'update' | 'updateSigningOut'>
  resources: Pick<ResourceQueries, 'list' | 'upsert'>
  clients: Pick<ClientService, 'validate' | 'upsert'>
  authz: { stores: Pick<PolicyStores, 'check' | 'apply'> }
  audit: Pick<AuditLog, 'with' | 'record'>
  login: { mfa: Pick<StrongLogin['mfa'], 'importTotp'>; sessions: Pick<StrongLogin['sessions'], 'afterRevoked'> }
  accounts: Pick<AccountStatus, 'disable' | 'enable'>
  passwordReset: Pick<PasswordResetService, 'invite'>
  federation: Pick<FederationService, 'importProviders'>
  /** reload the provider on this instance (new resource scopes change what it accepts) */
  refresh(): Promise<unknown>
  /** tell every instance that clients, resources or scopes changed */
  configChanged(): Promise<void>
}

export interface ApplyOptions {
  /** receives each API key issued by the import, once, with its secret (never logged) */
  onKeyIssued?: (k: IssuedFromImport) => void
}

/** Parses JSON or YAML text; syntax errors become problems, not exceptions. */
export function parseDocumentText(text: string, name = 'document'): { value?: unknown; problems: Problem[] } {
  try {
    return { value: YAML.parse(text, { prettyErrors: true }), problems: [] } // YAML is a superset of JSON
  } catch (e) {
    return { problems: [{ path: name, message: `not valid JSON or YAML: ${(e as Error).message.split('\n')[0]}` }] }
  }
}

/**
 * Validates the whole document first — schema, then each client against oidc-provider's own
 * rules, then cross-references — and returns every problem with its path. Nothing is applied
 * unless there are none.
 */
export async function validateDocument(
  c: ImportDeps,
  value: unknown,
): Promise<{ doc?: ImportDocument; problems: Problem[] }> {
  const parsed = importDocument.safeParse(value ?? {})
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) => ({
        path: i.path.map(String).join('.') || '(root)',
        message: i.message,
      })),
    }
  }
  const doc = parsed.data
  const problems: Problem[] = []
  const dup = (items: string[], label: string, key: string) => {
    const seen = new Set<string>()
    items.forEach((v, i) => {
      if (seen.has(v)) problems.push({ path: `${label}.${i}.${key}`, message: `duplicate ${key} ${v}` })
      seen.add(v)
    })
  }
  dup(
    doc.clients.map((x) => x.client_id),
    'clients',
    'client_id',
  )
  dup(
    doc.users.map((x) => x.email.toLowerCase()),
    'users',
    'email',
  )
  dup(
    doc.resources.map((x) => x.indicator),
    'resources',
    'indicator',
  )
  dup(
    doc.policy_stores.map((x) => x.name),
    'policy_stores',
    'name',
  )
  dup(
    doc.identity_providers.map((x) => x.alias),
    'identity_providers',
    'alias',
  )
  for (const [i, store] of doc.policy_stores.entries()) {
    if (store.name === SYSTEM_STORE) {
      // admin grants are made with `portcullis admin grant-role` (audited, last admin kept), not by import
      problems.push({
        path: `policy_stores.${i}.name`,
        message: 'the system store (admin roles) cannot be imported; use portcullis admin grant-role',
      })
      continue
    }
    try {
      await c.authz.stores.check({ model: store.model, policy: store.policy, options: store.options as StoreOptions })
    } catch (e) {
      const err = e as AppError
      const details = Array.isArray(err.details) ? (err.details as string[]) : [err.message]
      for (const message of details) problems.push({ path: `policy_stores.${i}`, message })
    }
  }
  const docScopes = doc.resources.flatMap((r) => r.scopes)
  for (const [i, client] of doc.clients.entries()) {
    for (const message of await c.clients.validate(client, docScopes)) problems.push({ path: `clients.${i}`, message })
  }
  problems.push(
    ...(await validateApiKeys(c, doc.api_keys, {
      clients: new Map(
        doc.clients.map((cl) => [
          cl.client_id,
          typeof cl.scope === 'string' ? cl.scope.split(' ').filter(Boolean) : [],
        ]),
      ),
      users: new Map(doc.users.map((u) => [u.email.toLowerCase(), u.roles ?? []])),
      resourceScopes: docScopes,
      scopeRoles: await scopeRolesOf(c, doc),
    })),
  )
  return { doc, problems }
}

/** Which roles hold each resource scope once the document is applied (the document wins over stored resources). */
async function scopeRolesOf(c: ImportDeps, doc: ImportDocument): Promise<Map<string, Set<string>>> {
  const inDoc = new Set(doc.resources.map((r) => r.indicator))
  const all = [
    ...(await c.resources.list()).filter((r) => !inDoc.has(r.indicator)).map((r) => r.scopeDetails),
    ...doc.resources.map((r) => r.scope_details),
  ]
  const out = new Map<string, Set<string>>()
  for (const details of all) {
    for (const [scope, d] of Object.entries(details))
      for (const role of d.roles) out.set(scope, (out.get(scope) ?? new Set()).add(role))
  }
  return out
}

/** Applies a valid document idempotently (upsert by natural key). */
export async function applyDocument(
  c: ImportDeps,
  doc: ImportDocument,
  actor = 'import',
  opts: ApplyOptions = {},
): Promise<ImportSummary> {
  for (const r of doc.resources) {
    await c.resources.upsert({
      indicator: r.indicator,
      scopes: r.scopes,
      scopeDetails: r.scope_details,
      accessTokenFormat: r.access_token_format,
      accessTokenTtl: r.access_token_ttl,
      accessTokenSigningAlg: r.access_token_signing_alg,
    })
  }
  for (const client of doc.clients) {
    // Who changed which client, with before/after of the changed non-secret fields (the audit
    // log redacts any detail named like a secret, hence "client_authentication_changed"),
    // committed with the change.
    await c.clients.upsert(client, (change) => {
      if (!change.changed) return undefined
      const pick = (m: Record<string, unknown> | undefined) =>
        m && Object.fromEntries(change.fields.map((k) => [k, m[k] ?? null]))
      return c.audit.with(() => ({
        action: change.created ? 'client.created' : 'client.updated',
        outcome: 'success',
        actor,
        target: change.clientId,
        details: {
          fields: change.fields,
          before: change.created ? null : pick(change.before),
          after: pick(change.after),
          client_authentication_changed: change.secretChanged,
        },
      }))
    })
  }
  for (const u of doc.users) await applyUser(c, u, actor)
  if (doc.identity_providers.length) await c.federation.importProviders(doc.identity_providers, actor)
  for (const store of doc.policy_stores) {
    await c.authz.stores.apply(
      {
        name: store.name,
        model: store.model,
        policy: store.policy,
        options: store.options as StoreOptions,
        description: store.description,
      },
      actor,
      'configuration import',
    )
  }
  // New resource scopes change what the provider accepts in client metadata.
  await c.refresh()
  // What owners hold may have changed (roles, scope roles, client scopes): every instance drops
  // its API key cache, so existing keys lose a revoked scope within a second (issue 10 §1).
  await c.apikeys.ownersChanged()
  // After clients and users: keys need their owners.
  if (doc.api_keys.length) await applyApiKeys(c, doc.api_keys, actor, opts.onKeyIssued)
  const summary = {
    clients: doc.clients.length,
    users: doc.users.length,
    resources: doc.resources.length,
    policy_stores: doc.policy_stores.length,
    ...(doc.api_keys.length ? { api_keys: doc.api_keys.length } : {}),
    ...(doc.identity_providers.length ? { identity_providers: doc.identity_providers.length } : {}),
  }
  await c.audit.record({ action: 'config.imported', outcome: 'success', actor, details: summary })
  // Running servers (other processes too) pick the changed clients, resources and scopes up now.
  await c.configChanged()
  return summary
}

/**
 * One user. Profile fields (name, roles, attributes, email_verified, disabled) are the
 * administrator's and follow the file. Credentials (password, password_hash, totp_secret) are
 * initial values, applied when the user is created: an import never undoes a change the user
 * made (DESIGN.md "Authority"). `reset_password` forces the file's password on an existing
 * user, ends their sessions, and makes them choose a new one at the next sign-in. Each credential
 * change is an audit event of its own, committed with the change (db/audited.ts); a forced
 * reset's sessions end in that same transaction, so its event counts them exactly.
 */
async function applyUser(c: ImportDeps, u: ImportUser, actor: string) {
  const existing = await c.users.findByEmail(u.email)
  const profile = {
    ...(u.name !== undefined ? { name: u.name } : {}),
    ...(u.roles !== undefined ? { roles: u.roles } : {}),
    ...(u.attributes !== undefined ? { attributes: u.attributes } : {}),
    ...(u.email_verified !== undefined ? { emailVerified: u.email_verified } : {}),
  }
  const event = (action: AuditAction, userId: string, details: Record<string, unknown>) => ({
    action,
    outcome: 'success' as const,
    actor,
    target: userId,
    details: { email: u.email.toLowerCase(), ...details },
  })
  if (!existing) {
    const hasPassword = Boolean(u.password || u.password_hash)
    const created = await c.users.create(
      {
        email: u.email,
        ...profile,
        password: u.password,
        passwordHash: u.password_hash,
        ...(u.reset_password ? { mustChangePassword: true } : {}),
      },
      c.audit.with((created) =>
        hasPassword
          ? event('user.password_set_by_import', created.id, {
              reason: 'created',
              change_required: Boolean(u.reset_password),
            })
          : null,
      ),
    )
    // Strong login (issue 3): a known TOTP secret becomes the user's authenticator app.
    if (u.totp_secret)
      await c.login.mfa.importTotp(
        created.id,
        u.totp_secret,
        c.audit.with(() => event('user.totp_set_by_import', created.id, { reason: 'created' })),
      )
    if (u.disabled) await c.accounts.disable(u.email, actor)
    // Issue 14 §8: no password, so the user chooses one through a mailed single-use link.
    else if (!hasPassword && u.invite !== false) await c.passwordReset.invite(created, { actor })
    return
  }
  // Through the account service: disabling ends sessions and stops the user's keys everywhere.
  if (u.disabled !== undefined && u.disabled !== existing.disabled) {
    await (u.disabled ? c.accounts.disable(u.email, actor) : c.accounts.enable(u.email, actor))
  }
  if (Object.keys(profile).length) await c.users.update(existing.id, profile)
  if (!u.reset_password) return
  // Forced reset. Re-running the same file while the user has not yet chosen a new password
  // changes nothing (no new hash, no new event).
  const pending =
    existing.mustChangePassword &&
    existing.passwordHash &&
    (u.password_hash
      ? safeEqual(existing.passwordHash, u.password_hash)
      : await verifyPassword(existing.passwordHash, u.password!))
  if (pending) return
  const passwordHash = u.password_hash ?? (await hashPassword(u.password!))
  // A forced reset is what an administrator does after a suspected compromise: sessions begun
  // with the old password end, so the new one (and its change) is needed at once (ASVS 3.3.3).
  // The hash, the sessions it ends and the event counting them are one transaction.
  const { ended } = await c.users.updateSigningOut(
    existing.id,
    { passwordHash, mustChangePassword: true },
    c.audit.with((r) =>
      event('user.password_reset_by_import', existing.id, {
        reason: 'reset_password',
        change_required: true,
        sessions_ended: r.ended.length,
      }),
    ),
  )
  await c.login.sessions.afterRevoked(ended)
}

/** Reads, validates and applies a file; throws an AppError listing every problem. */
export async function importFile(
  c: ImportDeps,
  file: string,
  actor = 'import',
  opts: ApplyOptions = {},
): Promise<ImportSummary> {
  let text: string
  try {
    text = await fs.readFile(file, 'utf8')
  } catch (e) {
    throw new AppError('import_unreadable', `cannot read ${file}: ${(e as Error).message}`, { status: 400 })
  }
  const { value, problems: syntax } = parseDocumentText(text, file)
  const { doc, problems } = syntax.length ? { doc: undefined, problems: syntax } : await validateDocument(c, value)
  if (problems.length || !doc) {
    throw new AppError(
      'import_invalid',
      `${file} was not applied: ${problems.length} problem(s)\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
      { status: 400, details: problems },
    )
  }
  return applyDocument(c, doc, actor, opts)
}

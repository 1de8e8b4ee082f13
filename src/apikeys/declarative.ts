import { z } from 'zod'
import { AppError } from '../errors.ts'
import { API_SCOPE_NAMES, type ApiScope } from '../oidc/api-resource.ts'
import { API_SCOPE_ROLES } from '../oidc/holdings.ts'
import { LEVELS, levelProblems, levelRank, maxLifetimeMs } from './levels.ts'
import { normaliseCidrs, type Actor } from './issue.ts'
import { normaliseEd25519PublicKey } from './signatures.ts'
import { keyStatus, type ApiKeyService } from './service.ts'
import type { UserService } from '../identity/users.ts'
import type { OwnerRef } from './owners.ts'

/**
 * `api_keys` in the import document. Secrets cannot be imported: a key that does not exist yet
 * (natural key: owner + name, among live keys) is issued and its secret handed to `onIssued`
 * once (the CLI prints it). An existing key is updated in place where the rules allow — name
 * is the key, allowed_ips and rate_limit change, level only goes up; expiry applies only when
 * the key is created; other scopes mean a different key (revoke and re-issue).
 */
export const apiKeyEntry = z
  .object({
    owner: z.string().regex(/^(user|client):.+$/, 'must be "user:<email or id>" or "client:<client_id>"'),
    name: z.string().trim().min(1).max(200),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a valid scope token (RFC 6749 §3.3)'))
      .default([]),
    level: z.enum(LEVELS).default('MEDIUM'),
    expires_at: z.iso.datetime({ offset: true }).optional(),
    expires_in_days: z.number().int().positive().max(365).optional(),
    allowed_ips: z.array(z.string()).optional(),
    rate_limit: z.number().int().positive().max(1_000_000).nullable().optional(),
    signing: z
      .discriminatedUnion('alg', [
        z.object({ alg: z.literal('hmac-sha256') }).strict(),
        z
          .object({ alg: z.literal('ed25519'), public_key: z.union([z.string(), z.record(z.string(), z.unknown())]) })
          .strict(),
      ])
      .optional(),
  })
  .strict()
  .refine((k) => !(k.expires_at && k.expires_in_days), {
    message: 'give expires_at or expires_in_days, not both',
    path: ['expires_at'],
  })
export type ApiKeyEntry = z.infer<typeof apiKeyEntry>

export interface IssuedFromImport {
  owner: string
  name: string
  id: string
  key: string
  signingSecret?: string
}

const expiryOf = (k: ApiKeyEntry, now: number) =>
  k.expires_at
    ? new Date(k.expires_at)
    : new Date(now + (k.expires_in_days ? k.expires_in_days * 86_400_000 : maxLifetimeMs(k.level)))

/**
 * What the `api_keys` section needs of the running server (the container has this shape):
 * the key service, and users to read an owner's roles and email.
 */
export interface ApiKeysDeclarativeDeps {
  apikeys: Pick<ApiKeyService, 'owners' | 'findByName' | 'issue' | 'update' | 'list'>
  users: Pick<UserService, 'findById'>
}

/** Owners the same document defines (applied before keys): their allowed scopes. */
export interface DocOwners {
  clients: Map<string, string[]>
  users: Map<string, string[]> // email -> roles
  resourceScopes: string[]
  /** resource scope -> the roles that hold it (issue 10 §1), as the document leaves them */
  scopeRoles: Map<string, Set<string>>
}

/** Every problem of the `api_keys` entries, with paths; nothing is written. */
export async function validateApiKeys(
  c: ApiKeysDeclarativeDeps,
  keys: ApiKeyEntry[],
  doc: DocOwners,
): Promise<{ path: string; message: string }[]> {
  const problems: { path: string; message: string }[] = []
  const seen = new Set<string>()
  const now = Date.now()
  for (const [i, k] of keys.entries()) {
    const at = (m: string) => problems.push({ path: `api_keys.${i}`, message: m })
    const id = `${k.owner.toLowerCase()}|${k.name}`
    if (seen.has(id)) at(`duplicate key ${k.name} for ${k.owner}`)
    seen.add(id)
    let allowedIps: string[] = []
    try {
      allowedIps = normaliseCidrs(k.allowed_ips ?? [])
    } catch (e) {
      at((e as Error).message)
    }
    if (k.signing?.alg === 'ed25519') {
      try {
        normaliseEd25519PublicKey(k.signing.public_key)
      } catch (e) {
        at(`signing.public_key: ${(e as Error).message}`)
      }
    }
    const [type, ref] = [k.owner.slice(0, k.owner.indexOf(':')), k.owner.slice(k.owner.indexOf(':') + 1)]
    const inDoc = type === 'client' ? doc.clients.get(ref) : doc.users.get(ref.toLowerCase())
    let owner: OwnerRef | undefined
    if (!inDoc) {
      try {
        owner = await c.apikeys.owners.resolve(k.owner)
      } catch (e) {
        at((e as AppError).message)
        continue
      }
    }
    const existing = owner && (await c.apikeys.findByName(owner, k.name))
    if (existing) {
      if ([...existing.scopes].sort().join(' ') !== [...new Set(k.scopes)].sort().join(' ')) {
        at(
          `the key ${k.name} exists with other scopes (${existing.scopes.join(' ') || 'none'}): scopes cannot change; revoke it or use another name`,
        )
      }
      if (levelRank(k.level) < levelRank(existing.level))
        at(`the key ${k.name} is ${existing.level}: a level can only be lowered by issuing a new key`)
      for (const m of levelProblems({
        level: k.level,
        from: existing.createdAt,
        expiresAt: existing.expiresAt,
        allowedIps,
        signingAlg: existing.signingAlg,
      }))
        at(m)
      continue
    }
    for (const m of levelProblems({
      level: k.level,
      from: new Date(now),
      expiresAt: expiryOf(k, now),
      allowedIps,
      signingAlg: k.signing?.alg ?? null,
    }))
      at(m)
    // A user holds API scopes by API_SCOPE_ROLES and resource scopes by the roles the document
    // (or a stored resource it leaves alone) names on them; a client its registered scopes.
    const roles = type === 'user' ? (inDoc ?? (await c.users.findById(owner!.id))?.roles ?? []) : undefined
    const holdsByRole = (s: string, rs: string[]) =>
      (API_SCOPE_NAMES as string[]).includes(s)
        ? API_SCOPE_ROLES[s as ApiScope].some((r) => rs.includes(r))
        : rs.some((r) => doc.scopeRoles.get(s)?.has(r))
    const excess = roles
      ? k.scopes.filter((s) => !holdsByRole(s, roles))
      : inDoc
        ? k.scopes.filter((s) => !inDoc.includes(s))
        : await c.apikeys.owners.excessScopes(owner!, k.scopes)
    if (excess.length) at(`${k.owner} may not hold ${excess.join(', ')}`)
  }
  return problems
}

/** Applies validated entries; returns how many keys were issued and updated. */
export async function applyApiKeys(
  c: ApiKeysDeclarativeDeps,
  keys: ApiKeyEntry[],
  actorLabel: string,
  onIssued?: (k: IssuedFromImport) => void,
) {
  const actor: Actor = { label: actorLabel, isAdmin: true }
  let issued = 0
  let updated = 0
  for (const k of keys) {
    const owner = await c.apikeys.owners.resolve(k.owner)
    const existing = await c.apikeys.findByName(owner, k.name)
    if (existing && keyStatus(existing) !== 'expired') {
      const ips = k.allowed_ips ? normaliseCidrs(k.allowed_ips) : existing.allowedIps
      const changed =
        existing.level !== k.level ||
        (k.allowed_ips && ips.join() !== existing.allowedIps.join()) ||
        (k.rate_limit !== undefined && k.rate_limit !== existing.rateLimit)
      if (changed) {
        await c.apikeys.update(
          existing.id,
          {
            level: k.level,
            ...(k.allowed_ips ? { allowedIps: ips } : {}),
            ...(k.rate_limit !== undefined ? { rateLimit: k.rate_limit } : {}),
          },
          actor,
        )
        updated++
      }
      continue
    }
    const r = await c.apikeys.issue(
      {
        owner,
        name: k.name,
        scopes: k.scopes,
        level: k.level,
        expiresAt: expiryOf(k, Date.now()),
        allowedIps: k.allowed_ips,
        rateLimit: k.rate_limit,
        signing:
          k.signing &&
          (k.signing.alg === 'ed25519' ? { alg: 'ed25519', publicKey: k.signing.public_key } : { alg: 'hmac-sha256' }),
      },
      actor,
    )
    issued++
    onIssued?.({
      owner: k.owner,
      name: k.name,
      id: r.record.id,
      key: r.key,
      ...(r.signingSecret ? { signingSecret: r.signingSecret } : {}),
    })
  }
  return { issued, updated }
}

/** Live keys (active or awaiting approval) as import entries, without secrets. */
export async function exportApiKeys(c: ApiKeysDeclarativeDeps) {
  const out = []
  for (const k of await c.apikeys.list()) {
    const status = keyStatus(k)
    if (status !== 'active' && status !== 'pending_approval') continue
    const owner =
      k.ownerType === 'user' ? `user:${(await c.users.findById(k.ownerId))?.email ?? k.ownerId}` : `client:${k.ownerId}`
    out.push({
      owner,
      name: k.name,
      scopes: k.scopes,
      level: k.level,
      expires_at: k.expiresAt.toISOString(),
      ...(k.allowedIps.length ? { allowed_ips: k.allowedIps } : {}),
      ...(k.rateLimit ? { rate_limit: k.rateLimit } : {}),
      ...(k.signingAlg === 'ed25519'
        ? { signing: { alg: 'ed25519', public_key: JSON.parse(k.signingKey!) as Record<string, unknown> } }
        : k.signingAlg
          ? { signing: { alg: k.signingAlg } }
          : {}),
    })
  }
  return out
}

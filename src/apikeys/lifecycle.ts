import type { AuditAction } from '../audit/actions.ts'
import { AppError, conflict, notFound } from '../errors.ts'
import { levelProblems, levelRank, needsApproval, type Level } from './levels.ts'
import type { ApiKeyPatch, ApiKeyRecord } from './queries.ts'
import { normaliseCidrs, type Actor, type IssueDeps } from './issue.ts'

export interface KeyUpdate {
  name?: string
  allowedIps?: string[]
  rateLimit?: number | null
  /** may only go up: lowering a level means issuing a new key */
  level?: Level
}

async function load(deps: IssueDeps, id: string): Promise<ApiKeyRecord> {
  const k = await deps.queries.find(id)
  if (!k) throw notFound(`no API key ${id}`)
  return k
}

/** The change's audit record, written in its transaction (db/audited.ts). */
const audit = (deps: IssueDeps, action: AuditAction, actor: Actor, id: string, details: Record<string, unknown> = {}) =>
  deps.audit.with<ApiKeyRecord>(() => ({
    action,
    outcome: 'success',
    actor: actor.label,
    target: `apikey:${id}`,
    details,
    ip: actor.ip,
    userAgent: actor.userAgent,
    requestId: actor.requestId,
  }))

/** Changes a key's name, allowlist, rate limit, or raises its level (its rules are checked). */
export async function updateKey(deps: IssueDeps, id: string, u: KeyUpdate, actor: Actor): Promise<ApiKeyRecord> {
  const k = await load(deps, id)
  if (k.revokedAt) throw conflict('key_revoked', 'a revoked key cannot change')
  const level = u.level ?? k.level
  if (levelRank(level) < levelRank(k.level)) {
    throw conflict('level_lowering', `a level can only be lowered by issuing a new key (this key is ${k.level})`)
  }
  const allowedIps = u.allowedIps ? normaliseCidrs(u.allowedIps) : k.allowedIps
  const problems = levelProblems({
    level,
    from: k.createdAt,
    expiresAt: k.expiresAt,
    allowedIps,
    signingAlg: k.signingAlg,
  })
  if (problems.length) throw new AppError('invalid_request', problems.join('; '), { status: 400, details: problems })
  if (actor.viaKey && levelRank(level) < levelRank(actor.viaKey.level)) {
    throw new AppError(
      'level_not_allowed',
      `an API key of level ${actor.viaKey.level} cannot manage a key of a lower level`,
      { status: 403 },
    )
  }
  const patch: ApiKeyPatch = {
    ...(u.name !== undefined ? { name: u.name } : {}),
    ...(u.allowedIps !== undefined ? { allowedIps } : {}),
    ...(u.rateLimit !== undefined ? { rateLimit: u.rateLimit } : {}),
    ...(u.level !== undefined ? { level } : {}),
  }
  // Raising to a level whose admin scopes need approval: an administrator's raise approves it.
  if (needsApproval(level, k.scopes) && !k.approvedBy) patch.approvedBy = actor.isAdmin ? actor.label : null
  const updated = await deps.queries.update(
    id,
    patch,
    audit(deps, 'apikey.updated', actor, id, { fields: Object.keys(patch), level }),
  )
  await deps.cache.changed(id)
  return updated
}

export async function revokeKey(deps: IssueDeps, id: string, actor: Actor): Promise<ApiKeyRecord> {
  const k = await load(deps, id)
  if (k.revokedAt) return k // idempotent (RFC 7009 §2.2 spirit)
  const updated = await deps.queries.update(id, { revokedAt: new Date() }, audit(deps, 'apikey.revoked', actor, id))
  await deps.cache.changed(id)
  return updated
}

/** An administrator approves a CRITICAL key that carries admin scopes. */
export async function approveKey(deps: IssueDeps, id: string, actor: Actor): Promise<ApiKeyRecord> {
  if (!actor.isAdmin) throw new AppError('insufficient_scope', 'approving a key needs the admin scope', { status: 403 })
  const k = await load(deps, id)
  if (k.revokedAt) throw conflict('key_revoked', 'a revoked key cannot be approved')
  if (!needsApproval(k.level, k.scopes)) throw conflict('approval_not_needed', 'this key does not need approval')
  if (k.approvedBy) return k
  const updated = await deps.queries.update(id, { approvedBy: actor.label }, audit(deps, 'apikey.approved', actor, id))
  await deps.cache.changed(id)
  return updated
}

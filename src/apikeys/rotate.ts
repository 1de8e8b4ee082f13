import { conflict, notFound } from '../errors.ts'
import { newKey, newKeyId } from './format.ts'
import { levelProblems, maxLifetimeMs } from './levels.ts'
import { AppError } from '../errors.ts'
import { checkIssuable, prepareSigning, type Actor, type IssueDeps, type Issued } from './issue.ts'
import { ownerString } from './owners.ts'

export interface RotateOptions {
  /** how long the old key keeps working (default ROTATION_GRACE, 24 h) */
  graceSeconds: number
  /** a new Ed25519 public key for the successor (default: keep the registered one) */
  publicKey?: unknown
}

/**
 * Issues a successor with the same owner, name, scopes, level, allowlist, rate limit and
 * approval, and a lifetime as long as the original's (within the level's maximum). The old key
 * keeps working for the grace period, then dies. An HMAC signing secret is renewed with the
 * key; an Ed25519 public key is kept unless a new one is given.
 */
export async function rotateKey(
  deps: IssueDeps,
  id: string,
  opts: RotateOptions,
  actor: Actor,
  now = new Date(),
): Promise<Issued & { previous: { id: string; expiresAt: Date } }> {
  const old = await deps.queries.find(id)
  if (!old) throw notFound(`no API key ${id}`)
  if (old.revokedAt) throw conflict('key_revoked', 'a revoked key cannot be rotated; issue a new one')
  if (old.rotatedTo) throw conflict('already_rotated', `this key was already rotated (successor ${old.rotatedTo})`)
  if (old.expiresAt <= now) throw conflict('key_expired', 'an expired key cannot be rotated; issue a new one')
  await checkIssuable(
    deps,
    { owner: { type: old.ownerType, id: old.ownerId }, scopes: old.scopes, level: old.level },
    actor,
  )

  const newId = newKeyId()
  const lifetime = Math.min(old.expiresAt.getTime() - old.createdAt.getTime(), maxLifetimeMs(old.level))
  const expiresAt = new Date(now.getTime() + lifetime)
  const signing =
    old.signingAlg === 'hmac-sha256'
      ? prepareSigning(deps.ring, newId, { alg: 'hmac-sha256' })
      : old.signingAlg === 'ed25519'
        ? opts.publicKey !== undefined
          ? prepareSigning(deps.ring, newId, { alg: 'ed25519', publicKey: opts.publicKey })
          : { alg: old.signingAlg, stored: old.signingKey }
        : { alg: null, stored: null }
  const problems = levelProblems({
    level: old.level,
    from: now,
    expiresAt,
    allowedIps: old.allowedIps,
    signingAlg: signing.alg,
  })
  if (problems.length) throw new AppError('invalid_request', problems.join('; '), { status: 400 })

  const { key, secret } = newKey(newId)
  const { hash, pepperKid } = deps.hasher.hash(secret)
  const graceEnd = new Date(Math.min(old.expiresAt.getTime(), now.getTime() + opts.graceSeconds * 1000))
  const record = await deps.queries.rotate(
    id,
    {
      id: newId,
      ownerType: old.ownerType,
      ownerId: old.ownerId,
      name: old.name,
      scopes: old.scopes,
      level: old.level,
      secretHash: hash,
      pepperKid,
      allowedIps: old.allowedIps,
      signingAlg: signing.alg,
      signingKey: signing.stored,
      rateLimit: old.rateLimit,
      approvedBy: old.approvedBy,
      expiresAt,
      createdBy: actor.label,
    },
    graceEnd,
    deps.audit.with(() => ({
      action: 'apikey.rotated',
      outcome: 'success',
      actor: actor.label,
      target: `apikey:${id}`,
      details: {
        successor: newId,
        owner: ownerString({ type: old.ownerType, id: old.ownerId }),
        old_key_expires_at: graceEnd.toISOString(),
      },
      ip: actor.ip,
      userAgent: actor.userAgent,
      requestId: actor.requestId,
    })),
  )
  await deps.cache.changed(id)
  await deps.cache.changed(newId)
  return {
    record,
    key,
    ...('secret' in signing && signing.secret ? { signingSecret: signing.secret } : {}),
    previous: { id, expiresAt: graceEnd },
  }
}

import crypto from 'node:crypto'
import { seal, type Keyring } from '../crypto/envelope.ts'
import { AppError } from '../errors.ts'
import { formatCidr, parseCidr } from '../net/ip.ts'
import type { AuditLog } from '../audit/log.ts'
import { newKey, newKeyId } from './format.ts'
import type { SecretHasher } from './hashing.ts'
import {
  KeyRulesError,
  levelRank,
  levelViolations,
  maxLifetimeMs,
  needsApproval,
  violationMessage,
  type Level,
} from './levels.ts'
import type { ApiKeyInsert, ApiKeyQueries, ApiKeyRecord, SigningAlg } from './queries.ts'
import { ownerString, type OwnerDirectory, type OwnerRef } from './owners.ts'
import { normaliseEd25519PublicKey } from './signatures.ts'
import { signingContext, type KeyCache } from './verify.ts'

/** Who is issuing or changing a key (for rules and the audit log). */
export interface Actor {
  /** audit actor: client:<id> | user:<id> | apikey:<id> | cli | import */
  label: string
  /** holds the `admin` scope: may approve CRITICAL keys that carry admin scopes */
  isAdmin: boolean
  /** set when the actor is itself an API key: it cannot mint keys wider or weaker than itself */
  viaKey?: { scopes: ReadonlySet<string>; level: Level }
  ip?: string
  userAgent?: string
  requestId?: string
}

export type SigningInput = { alg: 'hmac-sha256' } | { alg: 'ed25519'; publicKey: unknown }

export interface IssueInput {
  owner: OwnerRef
  name: string
  scopes: string[]
  level: Level
  expiresAt?: Date
  allowedIps?: string[]
  rateLimit?: number | null
  signing?: SigningInput
}

export interface Issued {
  record: ApiKeyRecord
  key: string
  signingSecret?: string
}

const bad = (message: string, details?: unknown) => new AppError('invalid_request', message, { status: 400, details })

export function normaliseCidrs(list: readonly string[]): string[] {
  const problems: string[] = []
  const out = list.map((v) => {
    try {
      return formatCidr(parseCidr(v))
    } catch (e) {
      problems.push((e as Error).message)
      return ''
    }
  })
  // details: the route contracts' shape (src/http/contract.ts), so a client can place it without reading the message
  if (problems.length) {
    throw new KeyRulesError([{ rule: 'invalid_allowlist', problems }], {
      details: { fields: problems.map((message) => ({ in: 'body', field: 'allowed_ips', message })) },
    })
  }
  return [...new Set(out)]
}

/** The signing configuration to store, and the HMAC secret to show once. */
export function prepareSigning(
  ring: Keyring,
  id: string,
  s: SigningInput | undefined,
): { alg: SigningAlg | null; stored: string | null; secret?: string } {
  if (!s) return { alg: null, stored: null }
  if (s.alg === 'hmac-sha256') {
    // The server must compute the HMAC, so the secret is kept — sealed under the master key.
    const secret = crypto.randomBytes(32).toString('base64url')
    return { alg: s.alg, stored: seal(ring, secret, signingContext(id)), secret }
  }
  try {
    return { alg: 'ed25519', stored: JSON.stringify(normaliseEd25519PublicKey(s.publicKey)) }
  } catch (e) {
    throw bad(`signing.public_key: ${(e as Error).message}`)
  }
}

export interface IssueDeps {
  queries: ApiKeyQueries
  owners: OwnerDirectory
  hasher: SecretHasher
  ring: Keyring
  cache: KeyCache
  audit: AuditLog
}

/** Rules every new key (issued or rotated) must meet, beyond its level's. */
export async function checkIssuable(
  deps: IssueDeps,
  k: { owner: OwnerRef; scopes: string[]; level: Level },
  actor: Actor,
) {
  const excess = await deps.owners.excessScopes(k.owner, k.scopes)
  if (excess.length) {
    throw new AppError(
      'scope_not_allowed',
      `${ownerString(k.owner)} may not hold ${excess.join(', ')}: a key never has more rights than its owner`,
      { status: 403 },
    )
  }
  if (actor.viaKey) {
    const wider = k.scopes.filter((s) => !actor.viaKey!.scopes.has(s))
    if (wider.length)
      throw new AppError(
        'scope_not_allowed',
        `an API key cannot issue a key with scopes it does not have itself: ${wider.join(', ')}`,
        { status: 403 },
      )
    if (levelRank(k.level) < levelRank(actor.viaKey.level)) {
      throw new AppError(
        'level_not_allowed',
        `an API key of level ${actor.viaKey.level} cannot issue a key of a lower level`,
        { status: 403 },
      )
    }
  }
}

export async function issueKey(deps: IssueDeps, input: IssueInput, actor: Actor, now = new Date()): Promise<Issued> {
  const scopes = [...new Set(input.scopes)].sort()
  const allowedIps = normaliseCidrs(input.allowedIps ?? [])
  const id = newKeyId()
  const signing = prepareSigning(deps.ring, id, input.signing)
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + maxLifetimeMs(input.level))
  const violations = levelViolations({ level: input.level, from: now, expiresAt, allowedIps, signingAlg: signing.alg })
  if (violations.length) throw new KeyRulesError(violations, { details: violations.map(violationMessage) })
  await checkIssuable(deps, { owner: input.owner, scopes, level: input.level }, actor)
  const { key, secret } = newKey(id)
  const { hash, pepperKid } = deps.hasher.hash(secret)
  const pending = needsApproval(input.level, scopes) && !actor.isAdmin
  const row: ApiKeyInsert = {
    id,
    ownerType: input.owner.type,
    ownerId: input.owner.id,
    name: input.name,
    scopes,
    level: input.level,
    secretHash: hash,
    pepperKid,
    allowedIps,
    signingAlg: signing.alg,
    signingKey: signing.stored,
    rateLimit: input.rateLimit ?? null,
    approvedBy: needsApproval(input.level, scopes) && actor.isAdmin ? actor.label : null,
    expiresAt,
    createdBy: actor.label,
  }
  // The key and its audit record commit together (db/audited.ts).
  const record = await deps.queries.insert(
    row,
    deps.audit.with(() => ({
      action: 'apikey.created',
      outcome: 'success',
      actor: actor.label,
      target: `apikey:${id}`,
      details: {
        owner: ownerString(input.owner),
        name: input.name,
        level: input.level,
        scopes,
        expires_at: expiresAt.toISOString(),
        pending_approval: pending,
        signing: signing.alg,
      },
      ip: actor.ip,
      userAgent: actor.userAgent,
      requestId: actor.requestId,
    })),
  )
  await deps.cache.changed(id) // an unknown-id miss may be cached as null
  return { record, key, ...(signing.secret ? { signingSecret: signing.secret } : {}) }
}

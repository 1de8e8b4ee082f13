import type { AuditAction } from '../audit/actions.ts'
import type { Redis } from 'ioredis'
import type { Audited } from '../db/audited.ts'
import { redisAdapter } from './adapters.ts'
import { withoutClient, type ClientRemoval, type ClientQueries } from './queries/clients.ts'

/** The audit record of a removal (structurally the audit log's `with`: src/audit/log.ts). */
interface AuditWith {
  with(
    record: (r: ClientRemoval) => {
      action: AuditAction
      outcome: 'success'
      actor: string
      target: string
      details: Record<string, unknown>
    },
  ): Audited<ClientRemoval>
}

/**
 * A dynamically registered client deletes itself (RFC 7592 §2.3: DELETE on its configuration
 * endpoint with its registration access token, through oidc-provider's client adapter
 * `destroy`). The RFC says the server MUST invalidate the client's credentials and
 * registration access token (the row goes; oidc-provider destroys the token) and SHOULD
 * invalidate at once every grant and active token of the client. So, in this order:
 * 1. the client row and everything it holds in the database — grants, refresh and opaque
 *    access tokens, codes, device and CIBA requests, its entry in every provider session — go
 *    in one transaction with the `client.deleted` audit record (queries/clients.ts `remove`);
 * 2. the JWT access tokens issued under those grants join the revoked list (revoked-tokens.ts),
 *    so introspection and our own APIs refuse them on every instance; this comes after the
 *    row is gone, so a token minted while the delete ran is caught too;
 * 3. with Redis, the grants' short-lived models there (codes, device codes) and the client's
 *    entry in every provider session stored there.
 * No back-channel logout is sent: the client asked to be deleted and has no one to tell.
 */
export function registeredClientRemoval(deps: {
  clients: Pick<ClientQueries, 'remove'>
  audit: AuditWith
  /** revoked-tokens.ts `revokeGrant`: the grant's JWT access tokens become revoked */
  revokeGrantJwts(grantId: string): Promise<void>
  redis?: Redis
  prefix: string
}) {
  const redisGrants = deps.redis ? redisAdapter(deps.redis, deps.prefix)('Grant') : undefined
  return async function removeRegisteredClient(clientId: string): Promise<ClientRemoval> {
    const removal = await deps.clients.remove(
      clientId,
      deps.audit.with((r) => ({
        action: 'client.deleted',
        outcome: 'success',
        actor: `client:${clientId}`,
        target: clientId,
        details: { dynamic: true, grants_revoked: r.grantIds.length, sessions_changed: r.sessionsChanged },
      })),
    )
    for (const grantId of removal.grantIds) {
      await deps.revokeGrantJwts(grantId)
      await redisGrants?.revokeByGrantId(grantId)
    }
    if (deps.redis) await dropFromRedisSessions(deps.redis, deps.prefix, clientId)
    return removal
  }
}

/** Replaces a hash's payload only if nobody changed it since it was read (the session is live). */
const SWAP_PAYLOAD = `
if redis.call('HGET', KEYS[1], 'payload') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'payload', ARGV[2])
  return 1
end
return 0`

/**
 * Removes the client's entry from every provider session in Redis (adapters.ts redisAdapter:
 * a hash per session, with its TTL, which HSET keeps). Sessions are not indexed by client,
 * so this walks them with SCAN; a client deletion is rare. A session saved concurrently keeps
 * its new payload: the entry's grant is gone anyway.
 */
async function dropFromRedisSessions(redis: Redis, prefix: string, clientId: string): Promise<number> {
  const sessions = `${prefix}oidc:Session:`
  let changed = 0
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscaped(sessions)}*`, 'COUNT', 500)
    cursor = next
    for (const key of keys) {
      if (key.slice(sessions.length).includes(':')) continue // the uid index keys
      const payload = await redis.hget(key, 'payload')
      const updated = payload?.includes(JSON.stringify(clientId)) ? withoutClient(payload, clientId) : undefined
      if (updated === undefined) continue
      changed += Number(await redis.eval(SWAP_PAYLOAD, 1, key, payload!, updated))
    }
  } while (cursor !== '0')
  return changed
}

/** A literal for a Redis glob pattern (the prefix is configurable: REDIS_PREFIX). */
const globEscaped = (s: string) => s.replace(/[*?[\]\\]/g, '\\$&')

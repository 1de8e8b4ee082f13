import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { subscribeChannel, type ChannelSubscription } from '../db/redis-channel.ts'
import type { RevokedTokenQueries } from './queries/revoked-tokens.ts'

/**
 * Revoked JWT access tokens (RFC 7009 for tokens that are verified offline and never stored).
 * The database holds the revoked jti until the token would have expired; every instance keeps
 * the live ones in memory so the hot paths (our own APIs) check without a query, and learns of
 * a revocation elsewhere within a second:
 * - with Redis, the revoking instance publishes `<jti> <exp>` on `<prefix>oidc:revoked-jti`
 *   (a database poll every 5 s is the safety net);
 * - without Redis, each instance reads the rows revoked since its last poll every 250 ms.
 * Introspection asks the database itself (`isRevokedNow`), so it is exact on every instance.
 */
export function revokedTokens(deps: {
  queries: RevokedTokenQueries
  redis?: Redis
  prefix: string
  logger: Logger
  pollMs?: number
}) {
  /** jti -> expiry (epoch seconds) */
  const live = new Map<string, number>()
  const channel = `${deps.prefix}oidc:revoked-jti`
  const pollMs = deps.pollMs ?? (deps.redis ? 5000 : 250)
  let lastPoll = new Date(0)
  let subscriber: ChannelSubscription | undefined
  let timer: NodeJS.Timeout | undefined
  let sweptAt = 0

  const remember = (jti: string, exp: number) => {
    if (exp > Date.now() / 1000) live.set(jti, exp)
  }
  const isRevoked = (jti: string) => {
    const exp = live.get(jti)
    return exp !== undefined && exp > Date.now() / 1000
  }
  const grantsInFlight = new Map<string, Promise<void>>()
  async function revokeGrantOnce(grantId: string) {
    const rows = await deps.queries.revokeGrant(grantId, new Date())
    for (const r of rows) {
      const exp = Math.floor(r.expiresAt.getTime() / 1000)
      remember(r.jti, exp)
      await deps.redis
        ?.publish(channel, `${r.jti} ${exp}`)
        .catch((err: Error) => deps.logger.warn({ err: err.message }, 'token revocation publish failed'))
    }
  }

  async function poll() {
    const started = new Date()
    // Rows committed by other instances may carry a revokedAt slightly before this instance's
    // last poll (clocks, commit order): look back a few seconds; re-reading a row is harmless.
    const rows = await deps.queries.since(new Date(lastPoll.getTime() - 5000), started)
    for (const r of rows) remember(r.jti, Math.floor(r.expiresAt.getTime() / 1000))
    lastPoll = started
    const now = Date.now() / 1000
    for (const [jti, exp] of live) if (exp <= now) live.delete(jti)
    if (Date.now() - sweptAt > 3_600_000) {
      sweptAt = Date.now()
      await deps.queries.deleteExpired(new Date())
    }
  }

  return {
    /** Remembers the token as revoked here, in the database and (soon) on every instance. */
    async revoke(t: { jti: string; clientId: string; expiresAt: number }) {
      await deps.queries.add({ jti: t.jti, clientId: t.clientId, expiresAt: new Date(t.expiresAt * 1000) })
      remember(t.jti, t.expiresAt)
      await deps.redis
        ?.publish(channel, `${t.jti} ${t.expiresAt}`)
        .catch((err: Error) => deps.logger.warn({ err: err.message }, 'token revocation publish failed'))
    },
    /** A JWT access token was issued under a grant: revoking the grant revokes it too. */
    async issuedUnderGrant(t: { jti: string; grantId: string; clientId: string; expiresAt: number }) {
      await deps.queries.addGrantToken({
        jti: t.jti,
        grantId: t.grantId,
        clientId: t.clientId,
        expiresAt: new Date(t.expiresAt * 1000),
      })
    },
    /** The grant was revoked (oidc-provider's adapter `revokeByGrantId`): so are its JWTs. */
    revokeGrant(grantId: string): Promise<void> {
      // oidc-provider calls revokeByGrantId for several models at once: one pass per grant.
      let pending = grantsInFlight.get(grantId)
      if (!pending) {
        pending = revokeGrantOnce(grantId).finally(() => grantsInFlight.delete(grantId))
        grantsInFlight.set(grantId, pending)
      }
      return pending
    },
    /** Whether this instance knows the token as revoked (no I/O: for the hot paths). */
    isRevoked,
    /** Exact answer from the database (introspection). */
    async isRevokedNow(jti: string): Promise<boolean> {
      return isRevoked(jti) || deps.queries.isRevoked(jti, new Date())
    },
    async start() {
      await poll()
      if (deps.redis) {
        subscriber = subscribeChannel({
          redis: deps.redis,
          channel,
          logger: deps.logger,
          label: 'token revocations',
          onMessage: (message) => {
            const [jti, exp] = message.split(' ')
            if (jti && Number.isFinite(Number(exp))) remember(jti, Number(exp))
          },
        })
      }
      timer = setInterval(
        () => void poll().catch((err: Error) => deps.logger.warn({ err: err.message }, 'token revocation poll failed')),
        pollMs,
      )
      timer.unref()
    },
    async stop() {
      if (timer) clearInterval(timer)
      await subscriber?.close()
    },
  }
}
export type RevokedTokens = ReturnType<typeof revokedTokens>

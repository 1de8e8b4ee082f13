import crypto from 'node:crypto'
import type { Audited } from '../db/audited.ts'
import type { SessionQueries, SessionRecord } from './queries/sessions.ts'

export interface SessionOptions {
  /** absolute lifetime in seconds (SESSION_TTL) */
  absolute: number
  /** idle timeout in seconds (SESSION_IDLE_TIMEOUT) */
  idle: number
}

const hash = (token: string) => crypto.createHash('sha256').update(token).digest('base64url')
/** last-seen updates are written at most this often (seconds), to keep reads cheap */
const TOUCH_EVERY = 30

/**
 * Sign-in sessions (ASVS V3): a random 256-bit token in an HttpOnly cookie, stored only as its
 * SHA-256. A new one is issued at every completed sign-in (after the password *and* the second
 * factor), so a token planted before sign-in is worthless (no fixation). Each session expires
 * after `absolute` seconds, or `idle` seconds without use, whichever comes first. Revoking a
 * session also ends the oidc-provider session linked to it (`endOidcSession`), so single
 * sign-on stops too.
 */
export function sessionService(deps: {
  queries: SessionQueries
  options: SessionOptions
  endOidcSession: (uid: string) => Promise<number | void>
}) {
  const q = deps.queries
  const o = deps.options
  const valid = (s: SessionRecord | null, now: Date): s is SessionRecord =>
    Boolean(s && !s.revokedAt && s.expiresAt > now && s.lastSeenAt.getTime() + o.idle * 1000 > now.getTime())

  /** Ends the linked oidc-provider sessions; returns how many logout receivers accepted. */
  async function endLinked(rows: SessionRecord[]) {
    let notified = 0
    for (const r of rows)
      if (r.oidcSessionUid) notified += (await deps.endOidcSession(r.oidcSessionUid).catch(() => 0)) || 0
    return notified
  }

  return {
    options: o,
    idOf: hash,
    async create(s: { userId: string; amr: string[]; acr: string; ip?: string | null; userAgent?: string | null }) {
      const token = crypto.randomBytes(32).toString('base64url')
      const now = new Date()
      const record = await q.create({
        ...s,
        id: hash(token),
        userAgent: s.userAgent?.slice(0, 512) ?? null,
        expiresAt: new Date(now.getTime() + o.absolute * 1000),
      })
      return { token, record }
    },
    /** The live session for a cookie token (and records that it was used), or undefined. */
    async resolve(token: string | undefined, meta: { ip?: string } = {}): Promise<SessionRecord | undefined> {
      if (!token || token.length > 100) return undefined
      const now = new Date()
      const s = await q.find(hash(token))
      if (!valid(s, now)) return undefined
      if (now.getTime() - s.lastSeenAt.getTime() > TOUCH_EVERY * 1000 || (meta.ip && meta.ip !== s.ip)) {
        await q.touch(s.id, { lastSeenAt: now, ...(meta.ip ? { ip: meta.ip } : {}) })
      }
      return s
    },
    async link(id: string, oidcSessionUid: string) {
      await q.touch(id, { oidcSessionUid })
    },
    setChallenge: (id: string, challenge: string | null) => q.touch(id, { challenge }),
    list: (userId: string) => q.listActive(userId, new Date()),
    /**
     * Revokes sessions of a user ('all' = sign out everywhere); returns how many ended. With
     * `audit` (from `audit.with`, given the revoked rows) the record commits with the revocation.
     */
    async revoke(userId: string, ids: string[] | 'all', audit?: Audited<SessionRecord[]>) {
      const rows = await q.revoke(userId, ids, new Date(), audit)
      await endLinked(rows)
      return rows.length
    },
    /** Ends the oidc-provider sessions linked to rows revoked in another change's transaction. */
    afterRevoked: (rows: SessionRecord[]) => endLinked(rows),
    /**
     * "Sign user X out now": every sign-in session of the user ends, each oidc-provider session
     * linked to one ends with it, and every client that took part in one of those and registered
     * a `backchannel_logout_uri` is sent a logout token first (OpenID Connect Back-Channel Logout
     * 1.0; each delivery audited as `logout.backchannel`). The one call for containment, disabling
     * a user and password resets. Returns how many sign-in sessions ended.
     */
    async notifySignOut(userId: string): Promise<number> {
      const rows = await q.revoke(userId, 'all', new Date())
      await endLinked(rows)
      return rows.length
    },
    /** As notifySignOut, also saying how many back-channel logout receivers accepted the news. */
    async signOutEverywhere(userId: string): Promise<{ sessionsEnded: number; receiversNotified: number }> {
      const rows = await q.revoke(userId, 'all', new Date())
      return { sessionsEnded: rows.length, receiversNotified: await endLinked(rows) }
    },
    /**
     * The oidc-provider session `ended` was ended (RP-initiated logout, or an account switch:
     * oidc-provider logs A out when B signs in in the same browser). Ends that account's sign-in
     * sessions linked to it, and the one in the cookie when it is that account's and not linked to
     * another oidc-provider session. A cookie of another account is B's new sign-in session,
     * issued moments before A's session ended: it stays, so B keeps single sign-on.
     */
    async endForOidcSession(token: string | undefined, ended: { uid: string; accountId?: string }) {
      const rows = (await q.findByOidcSession(ended.uid)).filter((r) => r.userId === ended.accountId)
      const own = token && token.length <= 100 ? await q.find(hash(token)) : null
      if (
        own &&
        !own.revokedAt &&
        own.userId === ended.accountId &&
        (!own.oidcSessionUid || own.oidcSessionUid === ended.uid)
      )
        rows.push(own)
      for (const r of rows) await q.revoke(r.userId, [r.id], new Date())
    },
    /** Retires the browser's previous sign-in session when a new sign-in completes. */
    async endByToken(token: string | undefined) {
      if (!token) return
      const s = await q.find(hash(token))
      if (s && !s.revokedAt) await q.revoke(s.userId, [s.id], new Date())
    },
  }
}
export type SessionService = ReturnType<typeof sessionService>

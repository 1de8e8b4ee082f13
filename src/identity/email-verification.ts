import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { AuditLog } from '../audit/log.ts'
import type { Mailer } from '../mail/service.ts'
import { emailChangedNotice, verifyEmailMail, type Brand } from '../mail/templates.ts'
import type { EmailTokenPurpose, EmailTokenQueries } from './queries/email-tokens.ts'
import { normalizeEmail, type UserService } from './users.ts'
import { TOKEN_SHAPE, tokenHash } from './password-reset.ts'
import type { RequestMeta } from './password-reset.ts'

export interface EmailVerificationOptions {
  publicUrl: string
  brand: Brand
  /** seconds a verification link stays valid (EMAIL_VERIFY_TTL) */
  ttl: number
  /** verification mails per account per hour */
  perUser?: number
}

type EmailVerificationDeps = {
  users: UserService
  tokens: EmailTokenQueries
  mail: Mailer
  audit: AuditLog
  redis?: Redis
  redisPrefix: string
  options: EmailVerificationOptions
}

/** What verification and change links share: the rate limit per account, opening a link, minting one. */
function linkKit(deps: EmailVerificationDeps) {
  const o = deps.options
  const base = { points: o.perUser ?? 5, duration: 3600, keyPrefix: `${deps.redisPrefix}emailverify:user` }
  const limiter: RateLimiterAbstract = deps.redis
    ? new RateLimiterRedis({ ...base, storeClient: deps.redis })
    : new RateLimiterMemory(base)

  /**
   * The link's token and account, if still good. A verification link is bound to the address
   * the account had when it was sent; a change link carries the new address in `t.email`.
   */
  async function open(token: string, purpose: EmailTokenPurpose = 'email_verify') {
    if (!TOKEN_SHAPE.test(token)) return undefined
    const t = await deps.tokens.find(tokenHash(token), purpose)
    if (!t || t.usedAt || t.expiresAt <= new Date()) return undefined
    const user = await deps.users.findById(t.userId)
    if (!user || user.disabled || (purpose === 'email_verify' && user.email !== t.email)) return undefined
    return { t, user }
  }
  async function allowed(userId: string): Promise<true | number> {
    try {
      await limiter.consume(userId)
      return true
    } catch (e) {
      if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext / 1000))
      throw e
    }
  }

  /** A new link's token and the id (its hash) stored for it. */
  const mint = () => {
    const token = crypto.randomBytes(32).toString('base64url')
    return { token, id: tokenHash(token) }
  }
  return { o, open, allowed, mint }
}
type LinkKit = ReturnType<typeof linkKit>

/** Verifying the account's current address. */
function verification(deps: EmailVerificationDeps, { o, open, allowed, mint }: LinkKit) {
  return {
    /** Mails a verification link to the account's address; `{ retryAfter }` when asked too often. */
    async send(user: { id: string; email: string }, m: RequestMeta): Promise<{ retryAfter?: number }> {
      const ok = await allowed(user.id)
      if (ok !== true) return { retryAfter: ok }
      const { token, id } = mint()
      await deps.tokens.create({
        id,
        userId: user.id,
        purpose: 'email_verify',
        email: user.email,
        expiresAt: new Date(Date.now() + o.ttl * 1000),
      })
      await deps.mail.send(
        'email_verify',
        verifyEmailMail(o.brand, {
          to: user.email,
          link: `${o.publicUrl}/email/verify?token=${token}`,
          ttlSeconds: o.ttl,
          change: false,
        }),
      )
      await deps.audit.record({
        action: 'user.email_verification_sent',
        outcome: 'success',
        actor: user.id,
        target: user.id,
        details: { link: id.slice(0, 12) },
        ...m,
      })
      return {}
    },
    /** The address a link would verify, if the link is still good (looking does not use it up). */
    async check(token: string) {
      return (await open(token))?.user
    },
    /** Uses the link: the address is verified. false when the link is unknown, used, expired or stale. */
    async confirm(token: string, m: RequestMeta): Promise<{ ok: true; email: string } | { ok: false }> {
      const found = await open(token)
      if (!found) return { ok: false }
      const now = new Date()
      if (!(await deps.tokens.consume(found.t.id, 'email_verify', now))) return { ok: false }
      // the verified flag and its record commit together (db/audited.ts)
      await deps.users.update(
        found.user.id,
        { emailVerified: true },
        deps.audit.with(() => ({
          action: 'user.email_verified',
          outcome: 'success',
          actor: found.user.id,
          target: found.user.id,
          details: { link: found.t.id.slice(0, 12) },
          ...m,
        })),
      )
      await deps.tokens.retireAll(found.user.id, 'email_verify', now)
      return { ok: true, email: found.user.email }
    },
  }
}

/** Changing the address: a link to the new address, used to confirm it. */
function addressChange(deps: EmailVerificationDeps, { o, open, allowed, mint }: LinkKit) {
  return {
    /**
     * A signed-in user (who re-entered the password) asks to use `newEmail`: a link goes to the
     * new address and nothing changes until it is followed. An address that belongs to another
     * account gets no link, and the answer is the same, so this says nothing about who exists.
     */
    async requestChange(
      user: { id: string; email: string },
      newEmail: string,
      m: RequestMeta,
    ): Promise<{ retryAfter?: number }> {
      const ok = await allowed(user.id)
      if (ok !== true) return { retryAfter: ok }
      const target = normalizeEmail(newEmail)
      const { token, id } = mint()
      if (target === user.email || (await deps.users.findByEmail(target))) {
        await deps.audit.record({
          action: 'user.email_change_requested',
          outcome: 'failure',
          actor: user.id,
          target: user.id,
          details: { reason: target === user.email ? 'unchanged' : 'taken' },
          ...m,
        })
        return {}
      }
      await deps.tokens.create({
        id,
        userId: user.id,
        purpose: 'email_change',
        email: target,
        expiresAt: new Date(Date.now() + o.ttl * 1000),
      })
      await deps.mail.send(
        'email_change',
        verifyEmailMail(o.brand, {
          to: target,
          link: `${o.publicUrl}/email/change?token=${token}`,
          ttlSeconds: o.ttl,
          change: true,
        }),
      )
      await deps.audit.record({
        action: 'user.email_change_requested',
        outcome: 'success',
        actor: user.id,
        target: user.id,
        details: { link: id.slice(0, 12) },
        ...m,
      })
      return {}
    },
    /** The account and new address a change link is for, if still good. */
    async checkChange(token: string) {
      const found = await open(token, 'email_change')
      return found && { user: found.user, newEmail: found.t.email }
    },
    /**
     * Uses a change link: the account's email becomes the new (now verified) address, the old
     * address is told (no link in that mail), and the change is audited.
     */
    async confirmChange(
      token: string,
      m: RequestMeta,
    ): Promise<{ ok: true; email: string } | { ok: false; taken?: true }> {
      const found = await open(token, 'email_change')
      if (!found) return { ok: false }
      const { t, user } = found
      if (await deps.users.findByEmail(t.email)) return { ok: false, taken: true }
      const now = new Date()
      if (!(await deps.tokens.consume(t.id, 'email_change', now))) return { ok: false }
      try {
        // the new address and its record commit together (db/audited.ts)
        await deps.users.update(
          user.id,
          { email: t.email, emailVerified: true },
          deps.audit.with(() => ({
            action: 'user.email_changed',
            outcome: 'success',
            actor: user.id,
            target: user.id,
            details: { from: user.email, to: t.email },
            ...m,
          })),
        )
      } catch (err) {
        // Another account took the address between the check and the update (unique index).
        if (await deps.users.findByEmail(t.email)) return { ok: false, taken: true }
        throw err
      }
      await deps.tokens.retireAll(user.id, 'email_change', now)
      await deps.mail.send('email_changed', emailChangedNotice(o.brand, { to: user.email, newEmail: t.email }))
      return { ok: true, email: t.email }
    },
  }
}

/**
 * Email verification (issue 14 §2): `email_verified` becomes true only when the user follows a
 * single-use link sent to the address (or an administrator vouched for it in the import). The
 * link is bound to the address it was sent to: if the account's email changed since, it no
 * longer verifies anything. Only the SHA-256 of the token is stored.
 */
export function emailVerificationService(deps: EmailVerificationDeps) {
  const kit = linkKit(deps)
  return { options: kit.o, ...verification(deps, kit), ...addressChange(deps, kit) }
}
export type EmailVerificationService = ReturnType<typeof emailVerificationService>

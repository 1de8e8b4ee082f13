import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { AuditLog } from '../audit/log.ts'
import type { Mailer } from '../mail/service.ts'
import { verifyEmailMail, type Brand } from '../mail/templates.ts'
import type { EmailTokenQueries } from './queries/email-tokens.ts'
import type { UserService } from './users.ts'
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

/**
 * Email verification (issue 14 §2): `email_verified` becomes true only when the user follows a
 * single-use link sent to the address (or an administrator vouched for it in the import). The
 * link is bound to the address it was sent to: if the account's email changed since, it no
 * longer verifies anything. Only the SHA-256 of the token is stored.
 */
export function emailVerificationService(deps: {
  users: UserService
  tokens: EmailTokenQueries
  mail: Mailer
  audit: AuditLog
  redis?: Redis
  redisPrefix: string
  options: EmailVerificationOptions
}) {
  const o = deps.options
  const base = { points: o.perUser ?? 5, duration: 3600, keyPrefix: `${deps.redisPrefix}emailverify:user` }
  const limiter: RateLimiterAbstract = deps.redis ? new RateLimiterRedis({ ...base, storeClient: deps.redis }) : new RateLimiterMemory(base)

  async function open(token: string) {
    if (!TOKEN_SHAPE.test(token)) return undefined
    const t = await deps.tokens.find(tokenHash(token), 'email_verify')
    if (!t || t.usedAt || t.expiresAt <= new Date()) return undefined
    const user = await deps.users.findById(t.userId)
    if (!user || user.disabled || user.email !== t.email) return undefined
    return { t, user }
  }

  return {
    options: o,
    /** Mails a verification link to the account's address; `{ retryAfter }` when asked too often. */
    async send(user: { id: string; email: string }, m: RequestMeta): Promise<{ retryAfter?: number }> {
      try {
        await limiter.consume(user.id)
      } catch (e) {
        if (e instanceof RateLimiterRes) return { retryAfter: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) }
        throw e
      }
      const token = crypto.randomBytes(32).toString('base64url')
      const id = tokenHash(token)
      await deps.tokens.create({ id, userId: user.id, purpose: 'email_verify', email: user.email, expiresAt: new Date(Date.now() + o.ttl * 1000) })
      await deps.mail.send('email_verify', verifyEmailMail(o.brand, { to: user.email, link: `${o.publicUrl}/email/verify?token=${token}`, ttlSeconds: o.ttl, change: false }))
      await deps.audit.record({ action: 'user.email_verification_sent', outcome: 'success', actor: user.id, target: user.id, details: { link: id.slice(0, 12) }, ...m })
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
      await deps.users.update(found.user.id, { emailVerified: true })
      await deps.tokens.retireAll(found.user.id, 'email_verify', now)
      await deps.audit.record({ action: 'user.email_verified', outcome: 'success', actor: found.user.id, target: found.user.id, details: { link: found.t.id.slice(0, 12) }, ...m })
      return { ok: true, email: found.user.email }
    },
  }
}
export type EmailVerificationService = ReturnType<typeof emailVerificationService>

import type { AuditAction } from '../audit/actions.ts'
import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { AuditLog } from '../audit/log.ts'
import type { Mailer } from '../mail/service.ts'
import { passwordResetMail, type Brand } from '../mail/templates.ts'
import { invitationMail } from '../mail/account-templates.ts'
import type { EmailTokenQueries } from './queries/email-tokens.ts'
import type { SessionService } from './sessions.ts'
import type { LockoutGuard } from './lockout.ts'
import { normalizeEmail, type UserService } from './users.ts'
import { passwordProblems } from './password-policy.ts'
import { hashPassword } from './passwords.ts'

export interface PasswordResetOptions {
  publicUrl: string
  brand: Brand
  /** seconds a reset link stays valid (PASSWORD_RESET_TTL) */
  ttl: number
  /** a reset ends the user's sign-in sessions (PASSWORD_RESET_ENDS_SESSIONS) */
  endsSessions: boolean
  minLength: number
  /** reset mails per address per hour, and requests per client IP per hour */
  perAddress: number
  perIp: number
  /** seconds an invitation link (imported user without a password) stays valid */
  invitationTtl?: number
}

export interface RequestMeta {
  ip: string
  userAgent?: string | null
  requestId?: string
}

/** 256 random bits, base64url: the only form the token ever has outside this function is its hash. */
const newToken = () => crypto.randomBytes(32).toString('base64url')
export const tokenHash = (token: string) => crypto.createHash('sha256').update(token).digest('base64url')
/** Tokens we issue are exactly 43 base64url characters; anything else is refused unlooked-up. */
export const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/

type PasswordResetDeps = {
  users: UserService
  tokens: EmailTokenQueries
  mail: Mailer
  audit: AuditLog
  sessions: SessionService
  lockout: LockoutGuard
  logger: Logger
  redis?: Redis
  redisPrefix: string
  options: PasswordResetOptions
}

/** "Forgot password" requests: answered at once, the lookup and the mail after the answer. */
function resetRequests(deps: PasswordResetDeps) {
  const o = deps.options
  const limiter = (name: string, points: number): RateLimiterAbstract => {
    const base = { points, duration: 3600, keyPrefix: `${deps.redisPrefix}pwreset:${name}` }
    return deps.redis ? new RateLimiterRedis({ ...base, storeClient: deps.redis }) : new RateLimiterMemory(base)
  }
  const byAddress = limiter('addr', o.perAddress)
  const byIp = limiter('ip', o.perIp)
  const inFlight = new Set<Promise<void>>()
  // The address key is hashed: Redis never holds the addresses people typed.
  const addressKey = (email: string) => crypto.createHash('sha256').update(normalizeEmail(email)).digest('base64url')

  async function allowed(l: RateLimiterAbstract, key: string): Promise<true | number> {
    try {
      await l.consume(key)
      return true
    } catch (e) {
      if (e instanceof RateLimiterRes) return Math.max(1, Math.ceil(e.msBeforeNext / 1000))
      throw e
    }
  }

  /** The work behind a request, after the answer: look up, make a link, queue the mail. */
  async function issue(email: string, limited: boolean, m: RequestMeta) {
    const target = normalizeEmail(email)
    const user = await deps.users.findByEmail(target)
    const token = newToken() // made (and hashed) for every request: the same work either way
    const id = tokenHash(token)
    const reason = limited ? 'rate_limited' : !user ? 'unknown_address' : user.disabled ? 'disabled' : undefined
    if (reason || !user) {
      await deps.audit.record({
        action: 'user.password_reset_requested',
        outcome: 'failure',
        actor: user?.id ?? null,
        target,
        details: { reason },
        ...m,
      })
      return
    }
    await deps.tokens.create({
      id,
      userId: user.id,
      purpose: 'password_reset',
      email: user.email,
      expiresAt: new Date(Date.now() + o.ttl * 1000),
    })
    const link = `${o.publicUrl}/password/reset?token=${token}`
    await deps.mail.send('password_reset', passwordResetMail(o.brand, { to: user.email, link, ttlSeconds: o.ttl }))
    await deps.audit.record({
      action: 'user.password_reset_requested',
      outcome: 'success',
      actor: user.id,
      target: user.id,
      details: { link: id.slice(0, 12) },
      ...m,
    })
  }

  return {
    /**
     * A "forgot password" request. Resolves with `{ retryAfter }` when this client IP made too
     * many requests, else `{}`: the same for every address.
     */
    async request(email: string, m: RequestMeta): Promise<{ retryAfter?: number }> {
      const ip = await allowed(byIp, m.ip)
      if (ip !== true) return { retryAfter: ip }
      const address = await allowed(byAddress, addressKey(email))
      const work = issue(email, address !== true, m)
        .catch((err: unknown) => {
          deps.logger.error({ err: (err as Error).message, requestId: m.requestId }, 'password reset request failed')
        })
        .finally(() => inFlight.delete(work))
      inFlight.add(work)
      return {}
    },
    /** Resolves once every request accepted so far has queued its mail (tests, shutdown). */
    async settled() {
      await Promise.all([...inFlight])
    },
  }
}

/**
 * Mails an invitation to an account that has no password yet (imported, issue 14 §8): a
 * single-use link to the set-password page, valid `invitationTtl` seconds (7 days). Also the
 * admin API's invitation (admin/users.ts), which shows the returned link once to the
 * administrator besides mailing it.
 */
function invitation(deps: PasswordResetDeps) {
  const o = deps.options
  return async function invite(
    user: { id: string; email: string },
    m: Partial<RequestMeta> & { actor?: string } = {},
  ): Promise<{ url: string; expiresAt: Date }> {
    const ttl = o.invitationTtl ?? 7 * 86400
    const token = newToken()
    const id = tokenHash(token)
    const expiresAt = new Date(Date.now() + ttl * 1000)
    const url = `${o.publicUrl}/password/reset?token=${token}`
    await deps.tokens.create({ id, userId: user.id, purpose: 'invitation', email: user.email, expiresAt })
    await deps.mail.send('invitation', invitationMail(o.brand, { to: user.email, link: url, ttlSeconds: ttl }))
    await deps.audit.record({
      action: 'user.invitation_sent',
      outcome: 'success',
      actor: m.actor ?? null,
      target: user.id,
      details: { link: id.slice(0, 12) },
      ip: m.ip,
      requestId: m.requestId,
    })
    return { url, expiresAt }
  }
}

/** Using a link: looking at it, then setting the password. */
function resetCompletion(deps: PasswordResetDeps) {
  const o = deps.options
  async function openToken(token: string) {
    if (!TOKEN_SHAPE.test(token)) return undefined
    // An invitation (issue 14 §8) is the same kind of link with a longer life and its own mail.
    const t =
      (await deps.tokens.find(tokenHash(token), 'password_reset')) ??
      (await deps.tokens.find(tokenHash(token), 'invitation'))
    if (!t || t.usedAt || t.expiresAt <= new Date()) return undefined
    const user = await deps.users.findById(t.userId)
    // The link was for this address: an account whose email changed since cannot use it.
    if (!user || user.disabled || user.email !== t.email) return undefined
    return { t, user }
  }

  return {
    /** The account a link is for, if the link is still good (it is not used up by looking). */
    async check(token: string) {
      return (await openToken(token))?.user
    },
    /**
     * Sets the new password. `problems` are the policy's (the link stays good); `invalid`
     * means the link is unknown, used, expired or its account is gone.
     */
    async complete(
      token: string,
      password: string,
      m: RequestMeta,
    ): Promise<{ ok: true; email: string } | { ok: false; invalid?: true; problems?: string[] }> {
      const found = await openToken(token)
      if (!found) return { ok: false, invalid: true }
      const { t, user } = found
      const problems = passwordProblems(password, {
        minLength: o.minLength,
        email: user.email,
        userInputs: user.name ? [user.name] : [],
      })
      if (problems.length) return { ok: false, problems }
      const now = new Date()
      const purpose = t.purpose === 'invitation' ? 'invitation' : 'password_reset'
      if (!(await deps.tokens.consume(t.id, purpose, now))) return { ok: false, invalid: true }
      // Whoever holds the mailbox may sign in again at once: failed guesses are forgiven (the
      // counters live in Redis/memory, cleared right after the commit below).
      const wasLocked = await deps.lockout.isLocked(user.email)
      // The password, the address verified (the link reached the user through it, issue 14 §2),
      // the sessions it ends and the audit record commit together (db/audited.ts): the record's
      // sessions_ended counts what this transaction revoked.
      const change = {
        passwordHash: await hashPassword(password),
        mustChangePassword: false,
        ...(user.emailVerified ? {} : { emailVerified: true }),
      }
      const action: AuditAction = purpose === 'invitation' ? 'user.invitation_accepted' : 'user.password_reset'
      const record = (ended: number) => ({
        action,
        outcome: 'success' as const,
        actor: user.id,
        target: user.id,
        details: { link: t.id.slice(0, 12), sessions_ended: ended, lockout_cleared: wasLocked },
        ...m,
      })
      if (o.endsSessions) {
        const { ended } = await deps.users.updateSigningOut(
          user.id,
          change,
          deps.audit.with((r) => record(r.ended.length)),
        )
        await deps.sessions.afterRevoked(ended)
      } else {
        await deps.users.update(
          user.id,
          change,
          deps.audit.with(() => record(0)),
        )
      }
      await deps.tokens.retireAll(user.id, 'password_reset', now)
      await deps.tokens.retireAll(user.id, 'invitation', now)
      await deps.lockout.clear(user.email)
      return { ok: true, email: user.email }
    },
  }
}

/**
 * Forgotten password (issue 14 §3; OWASP Forgot Password Cheat Sheet):
 * - `request` answers the same way whether or not the address belongs to an account, and in the
 *   same time: the caller only pays for the rate-limit check; looking the address up, making
 *   the token and queueing the mail happen after the answer (`settled` waits for them).
 * - the link carries a 256-bit single-use token valid for `ttl` seconds; only its SHA-256 is
 *   stored, so a copy of the database cannot reset anyone's password.
 * - `complete` applies the password policy, consumes the token atomically (a reused or expired
 *   link is refused), retires the user's other reset links, ends their sign-in sessions (a
 *   setting), clears a lockout and records `user.password_reset`. It does not sign the user in:
 *   the next sign-in asks for the second factor as before.
 * - rate limited per address (silently: further requests send no mail, so the limit says
 *   nothing about the address) and per client IP (a 429).
 */
export function passwordResetService(deps: PasswordResetDeps) {
  return { options: deps.options, ...resetRequests(deps), invite: invitation(deps), ...resetCompletion(deps) }
}
export type PasswordResetService = ReturnType<typeof passwordResetService>

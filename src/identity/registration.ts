import crypto from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import type { AuditLog } from '../audit/log.ts'
import type { Mailer } from '../mail/service.ts'
import type { Brand } from '../mail/templates.ts'
import { accountExistsMail } from '../mail/account-templates.ts'
import type { EmailVerificationService } from './email-verification.ts'
import { passwordProblems } from './password-policy.ts'
import { t } from '../views/i18n.ts'
import type { RequestMeta } from './password-reset.ts'
import { normalizeEmail, type UserService } from './users.ts'

export interface RegistrationOptions {
  /** REGISTRATION_ENABLED: off by default */
  enabled: boolean
  /** REGISTRATION_ALLOWED_DOMAINS: `example.com` or `*.example.com`; empty allows any */
  allowedDomains: string[]
  minLength: number
  /** sign-ups (and so mails) per address per hour; beyond it requests are dropped silently */
  perAddress: number
  publicUrl: string
  brand: Brand
}

/** Is the address's domain one of the allowed ones (`*.d` covers subdomains of d, not d)? */
export function domainAllowed(email: string, allowed: readonly string[]): boolean {
  if (!allowed.length) return true
  const domain = normalizeEmail(email).split('@').pop() ?? ''
  return allowed.some((d) => (d.startsWith('*.') ? domain.endsWith(d.slice(1)) : domain === d))
}

export type RegisterResult = { ok: true } | { ok: false; problems: string[]; field: 'email' | 'password' }

/**
 * Self-registration (issue 14 §4):
 * - the address's domain and the password (policy and breached list, identity/password-policy.ts)
 *   are checked first; neither depends on whether the address has an account;
 * - then the answer is the same for every address, in the same time: creating the account
 *   (argon2, a verification mail) or telling an existing account's owner (a mail, nothing
 *   changes) happens after the answer (`settled` waits for it), as for the forgotten password;
 * - the new account has `mustVerifyEmail`: no sign-in completes (so no token is issued) until the
 *   mailed link was followed (oidc/interactions/next-step.ts, steps/verify-email.ts);
 * - each address gets `perAddress` sign-ups an hour (silently dropped beyond: the limit says
 *   nothing about the address); the per-IP limit is the `signup` rate-limit class.
 */
export function registrationService(deps: {
  users: UserService
  verification: EmailVerificationService
  mail: Mailer
  audit: AuditLog
  logger: Logger
  redis?: Redis
  redisPrefix: string
  options: RegistrationOptions
}) {
  const o = deps.options
  const base = { points: o.perAddress, duration: 3600, keyPrefix: `${deps.redisPrefix}signup:addr` }
  const byAddress: RateLimiterAbstract = deps.redis
    ? new RateLimiterRedis({ ...base, storeClient: deps.redis })
    : new RateLimiterMemory(base)
  const inFlight = new Set<Promise<void>>()
  // Hashed: Redis never holds the addresses people typed.
  const addressKey = (email: string) => crypto.createHash('sha256').update(normalizeEmail(email)).digest('base64url')

  async function limited(email: string) {
    try {
      await byAddress.consume(addressKey(email))
      return false
    } catch (e) {
      if (e instanceof RateLimiterRes) return true
      throw e
    }
  }

  async function work(email: string, password: string, name: string | undefined, m: RequestMeta) {
    const target = normalizeEmail(email)
    if (await limited(target)) {
      await deps.audit.record({
        action: 'user.registered',
        outcome: 'failure',
        target,
        details: { reason: 'rate_limited' },
        ...m,
      })
      return
    }
    const existing = await deps.users.findByEmail(target)
    if (existing) {
      await deps.mail.send(
        'account_exists',
        accountExistsMail(o.brand, {
          to: existing.email,
          signInUrl: `${o.publicUrl}/account`,
          resetUrl: `${o.publicUrl}/password/forgot`,
        }),
      )
      await deps.audit.record({
        action: 'user.registered',
        outcome: 'failure',
        actor: null,
        target: existing.id,
        details: { reason: 'address_taken' },
        ...m,
      })
      return
    }
    let user
    try {
      // the account and its `user.registered` record commit together (db/audited.ts)
      user = await deps.users.create(
        { email: target, password, name: name ?? null, emailVerified: false, mustVerifyEmail: true },
        deps.audit.with((u) => ({
          action: 'user.registered',
          outcome: 'success',
          actor: u.id,
          target: u.id,
          details: { email: u.email },
          ...m,
        })),
      )
    } catch (err) {
      // The same address registered twice at once: the unique index keeps one account.
      if (await deps.users.findByEmail(target)) return
      throw err
    }
    await deps.verification.send(user, m)
  }

  return {
    options: o,
    /** Checks what can be said without revealing anything, then accepts; see above. */
    register(input: { email: string; password: string; name?: string }, m: RequestMeta): RegisterResult {
      if (!domainAllowed(input.email, o.allowedDomains)) {
        void deps.audit.record({
          action: 'user.registered',
          outcome: 'failure',
          target: normalizeEmail(input.email),
          details: { reason: 'domain_not_allowed' },
          ...m,
        })
        return { ok: false, field: 'email', problems: [t('register.domainNotAllowed')] }
      }
      const problems = passwordProblems(input.password, {
        minLength: o.minLength,
        email: input.email,
        userInputs: input.name ? [input.name] : [],
      })
      if (problems.length) return { ok: false, field: 'password', problems }
      const p = work(input.email, input.password, input.name, m)
        .catch((err: unknown) => {
          deps.logger.error({ err: (err as Error).message, requestId: m.requestId }, 'registration failed')
        })
        .finally(() => inFlight.delete(p))
      inFlight.add(p)
      return { ok: true }
    },
    /** A form whose anti-automation challenge (signup-challenge.ts) was not answered: audited. */
    challengeFailed: (email: string, challenge: string, m: RequestMeta) =>
      deps.audit.record({
        action: 'user.registered',
        outcome: 'failure',
        target: email.toLowerCase(),
        details: { reason: 'challenge_failed', challenge },
        ...m,
      }),
    /** Resolves once every accepted sign-up has created its account and queued its mail. */
    async settled() {
      await Promise.all([...inFlight])
    },
  }
}
export type RegistrationService = ReturnType<typeof registrationService>

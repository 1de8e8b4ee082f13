import type { Redis } from 'ioredis'
import type { AuditLog } from '../audit/log.ts'
import type { AuditQueries } from '../audit/queries.ts'
import type { Compliance } from '../audit/report.ts'
import type { Config } from '../config/env.ts'
import { deriveKey, type Keyring } from '../crypto/envelope.ts'
import type { Db } from '../db/client.ts'
import type { SettingQueries } from '../db/settings.ts'
import type { Logger } from '../logger.ts'
import type { Mailer } from '../mail/service.ts'
import type { FeatureModule } from '../module.ts'
import { brandOf } from '../views/brand.ts'
import { accountStatus } from './account-status.ts'
import { emailVerificationService } from './email-verification.ts'
import { passwordResetService } from './password-reset.ts'
import { emailTokenQueries } from './queries/email-tokens.ts'
import { userQueries } from './queries.ts'
import { registrationService } from './registration.ts'
import { securityNotices } from './security-notices.ts'
import { noChallenge, proofOfWork } from './signup-challenge.ts'
import { strongLogin } from './strong-login.ts'
import { userService, type UserService } from './users.ts'

export interface IdentityModuleDeps {
  config: Readonly<Config>
  db: Db
  redis?: Redis
  logger: Logger
  ring: Keyring
  settings: SettingQueries
  audit: AuditLog
  /** whether a user signed in before (new-device notices) */
  auditQueries: Pick<AuditQueries, 'loginSources'>
  compliance: Pick<Compliance, 'provide'>
  mail: Mailer
  /** starts mail delivery (mail/module.ts) */
  startMailDelivery: () => void
  /** Ends an oidc-provider session (oidc/module.ts); resolves to the back-channel receivers that accepted. */
  endOidcSession: (uid: string) => Promise<number>
  /** Tells the API key caches everywhere that an owner's state changed (apikeys/module.ts). */
  ownersChanged: () => Promise<void>
}

/**
 * People: users, strong login (factors, recovery codes, sign-in sessions, lockout), mailed links
 * (password reset, email verification), self-registration, security notices, and disabling
 * accounts. Its hooks go into the provider (oidc/module.ts), which comes later in start order.
 */
export function identityModule(deps: IdentityModuleDeps) {
  const { config, logger } = deps
  // Users: a password rehashed at sign-in (imported or older hash) is audited.
  const userRows = userQueries(deps.db)
  const users = userService(userRows, { audit: deps.audit })
  // Strong login (issue 3): factors, recovery codes, sign-in sessions, lockout.
  const login = strongLogin({
    db: deps.db,
    config,
    ring: deps.ring,
    settings: deps.settings,
    audit: deps.audit,
    redis: deps.redis,
    endOidcSession: deps.endOidcSession,
  })
  // Strong login: the compliance report lists each user's second factors.
  deps.compliance.provide({ mfaFactors: async (u) => (await login.mfa.list(u.id)).map((f) => f.type) })
  const emailTokens = emailTokenQueries(deps.db)
  const mailed = mailedLinks(deps, users, login, emailTokens)
  const currentKey = deps.ring.keys.get(deps.ring.currentId)!
  // Security notices to users (issue 14 §5): they follow the audit log; new devices at sign-in.
  const notices = securityNotices({
    users,
    mail: deps.mail,
    audit: deps.audit,
    logger,
    signedInBefore: async (userId, before) =>
      (await deps.auditQueries.loginSources(userId, new Date(0), before, 1)).length > 0,
    options: {
      enabled: config.SECURITY_NOTICES,
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
      deviceKey: deriveKey(currentKey, 'device'),
    },
  })
  let pruneTimer: NodeJS.Timeout | undefined
  return {
    queries: { users: userRows },
    users,
    /** Strong login (issue 3): c.login.mfa, .sessions, .lockout, .requireMfaForAll(). */
    login,
    /** Disabling and enabling accounts: sessions end and the owner's API keys stop everywhere. */
    accounts: accountStatus({ users, sessions: login.sessions, audit: deps.audit, ownersChanged: deps.ownersChanged }),
    emailTokens,
    ...mailed,
    /** Security notices (identity/security-notices.ts). */
    notices,
    /** Delivers queued mail in the background; servers call it (the CLI only queues). */
    startMail() {
      deps.startMailDelivery()
      // Used and expired mailed links are only kept a day (their hashes are useless after expiry).
      pruneTimer ??= setInterval(() => {
        emailTokens
          .prune(new Date(Date.now() - 86_400_000))
          .catch((err: Error) => logger.warn({ err: err.message }, 'pruning expired mail links failed'))
      }, 3_600_000).unref()
    },
    // Notices follow the audit log to its end: mails queued while the container closes still go out.
    start() {
      notices.start()
    },
    async stop() {
      if (pruneTimer) clearInterval(pruneTimer)
      await mailed.passwordReset.settled()
    },
  } satisfies FeatureModule
}

/** Password reset, email verification and self-registration: links by mail, rate limited, audited. */
function mailedLinks(
  deps: IdentityModuleDeps,
  users: UserService,
  login: ReturnType<typeof strongLogin>,
  tokens: ReturnType<typeof emailTokenQueries>,
) {
  const { config, logger, redis, mail, audit } = deps
  const redisPrefix = config.REDIS_PREFIX
  // Forgotten password (issue 14 §3).
  const passwordReset = passwordResetService({
    users,
    tokens,
    mail,
    audit,
    sessions: login.sessions,
    lockout: login.lockout,
    logger,
    redis,
    redisPrefix,
    options: {
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
      ttl: config.PASSWORD_RESET_TTL,
      endsSessions: config.PASSWORD_RESET_ENDS_SESSIONS,
      minLength: config.PASSWORD_MIN_LENGTH,
      perAddress: config.PASSWORD_RESET_PER_ADDRESS,
      perIp: config.PASSWORD_RESET_PER_IP,
    },
  })
  // Email verification (issue 14 §2): email_verified only after the user followed a mailed link.
  const emailVerification = emailVerificationService({
    users,
    tokens,
    mail,
    audit,
    redis,
    redisPrefix,
    options: { publicUrl: config.PUBLIC_URL, brand: brandOf(config), ttl: config.EMAIL_VERIFY_TTL },
  })
  // Self-registration (issue 14 §4): off unless REGISTRATION_ENABLED; proof of work against bots.
  const registration = registrationService({
    users,
    verification: emailVerification,
    mail,
    audit,
    logger,
    redis,
    redisPrefix,
    options: {
      enabled: config.REGISTRATION_ENABLED,
      allowedDomains: config.REGISTRATION_ALLOWED_DOMAINS,
      minLength: config.PASSWORD_MIN_LENGTH,
      perAddress: config.REGISTRATION_PER_ADDRESS,
      publicUrl: config.PUBLIC_URL,
      brand: brandOf(config),
    },
  })
  const currentKey = deps.ring.keys.get(deps.ring.currentId)!
  const signupChallenge =
    config.REGISTRATION_POW_BITS > 0
      ? proofOfWork({
          key: deriveKey(currentKey, 'signup-pow'),
          bits: config.REGISTRATION_POW_BITS,
          redis,
          redisPrefix,
        })
      : noChallenge
  return {
    passwordReset,
    emailVerification,
    /** Self-registration (identity/registration.ts) and its anti-automation challenge. */
    registration,
    signupChallenge,
  }
}

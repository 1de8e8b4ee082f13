import type { Redis } from 'ioredis'
import type { Config } from '../config/env.ts'
import type { Db } from '../db/client.ts'
import type { SettingQueries } from '../db/settings.ts'
import type { Keyring } from '../crypto/envelope.ts'
import type { AuditLog } from '../audit/log.ts'
import { mfaQueries } from './queries/mfa.ts'
import { sessionQueries } from './queries/sessions.ts'
import { mfaService } from './mfa.ts'
import { sessionService } from './sessions.ts'
import { lockoutGuard } from './lockout.ts'

const REQUIRE_MFA_SETTING = 'login.require_mfa_for_all'

/**
 * The strong-login feature as one object (c.login): second factors, sign-in sessions, lockout,
 * the "MFA for everyone" switch, and the hooks oidc-provider's login checks call.
 */
export function strongLogin(deps: {
  db: Db
  config: Readonly<Config>
  ring: Keyring
  settings: SettingQueries
  audit: AuditLog
  redis?: Redis
  /** Ends an oidc-provider session; resolves to how many back-channel logout receivers accepted. */
  endOidcSession: (uid: string) => Promise<number | void>
}) {
  const { config } = deps
  const https = config.PUBLIC_URL.startsWith('https:')
  const mfa = mfaService({
    queries: mfaQueries(deps.db),
    ring: deps.ring,
    issuer: new URL(config.PUBLIC_URL).host,
    publicUrl: config.PUBLIC_URL,
  })
  const sessions = sessionService({
    queries: sessionQueries(deps.db),
    options: { absolute: config.SESSION_TTL, idle: config.SESSION_IDLE_TIMEOUT },
    endOidcSession: deps.endOidcSession,
  })
  const lockout = lockoutGuard({
    redis: deps.redis,
    prefix: config.REDIS_PREFIX,
    settings: deps.settings,
    audit: deps.audit,
    options: {
      maxFailures: config.LOGIN_MAX_FAILURES,
      lockoutSeconds: config.LOGIN_LOCKOUT_SECONDS,
      ipMaxFailures: config.LOGIN_IP_MAX_FAILURES,
      delayMs: config.LOGIN_FAILURE_DELAY_MS,
    },
  })
  // `__Host-` (RFC 6265bis §4.1.3.2): Secure, Path=/, no Domain — only over https.
  const cookieName = https ? '__Host-portcullis_sid' : 'portcullis_sid'

  return {
    mfa,
    sessions,
    lockout,
    cookie: {
      name: cookieName,
      /** Set-Cookie value for a new session token (or an expired one to clear it). */
      header(token: string | null) {
        const attrs = ['Path=/', 'HttpOnly', 'SameSite=Lax', ...(https ? ['Secure'] : [])]
        return token === null
          ? `${cookieName}=; ${attrs.join('; ')}; Max-Age=0`
          : `${cookieName}=${token}; ${attrs.join('; ')}; Max-Age=${config.SESSION_TTL}`
      },
    },
    /** Administrator switch: every user must use a second factor (enrolment forced at next sign-in). */
    async requireMfaForAll(): Promise<boolean> {
      return (await deps.settings.get(REQUIRE_MFA_SETTING)) === 'true'
    },
    async setRequireMfaForAll(on: boolean, actor: string) {
      // the switch and its record commit together (db/audited.ts)
      await deps.settings.set(
        REQUIRE_MFA_SETTING,
        on ? 'true' : 'false',
        deps.audit.with(() => ({
          action: 'mfa.policy_changed',
          outcome: 'success',
          actor,
          details: { require_mfa_for_all: on },
        })),
      )
    },
    hooks: {
      cookieName,
      async sessionValid(token: string | undefined, accountId: string, oidcSessionUid: string) {
        const s = await sessions.resolve(token)
        if (!s || s.userId !== accountId) return false
        if (s.oidcSessionUid !== oidcSessionUid) await sessions.link(s.id, oidcSessionUid)
        return true
      },
      sessionEnded: (token: string | undefined, ended: { uid: string; accountId?: string }) =>
        sessions.endForOidcSession(token, ended),
    },
  }
}
export type StrongLogin = ReturnType<typeof strongLogin>

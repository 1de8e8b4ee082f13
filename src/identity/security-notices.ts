import crypto from 'node:crypto'
import type { Logger } from 'pino'
import type { AuditEventView, AuditLog } from '../audit/log.ts'
import type { Mailer } from '../mail/service.ts'
import type { Brand } from '../mail/templates.ts'
import { securityNotice, type NoticeKind } from '../mail/account-templates.ts'
import { t } from '../views/i18n.ts'
import type { SecurityNotice } from '../config/env.ts'
import type { UserRecord } from './queries.ts'
import type { UserService } from './users.ts'

export interface SecurityNoticeOptions {
  /** SECURITY_NOTICES: which notices are sent */
  enabled: readonly SecurityNotice[]
  publicUrl: string
  brand: Brand
  /** HMAC key of the device cookie's marks */
  deviceKey: Buffer
}

const DEVICE_ID = /^[A-Za-z0-9_-]{22}$/
const MARK = /^[A-Za-z0-9_-]{16}$/
/** Accounts remembered per browser: the oldest falls out (and is told again next time). */
const MAX_MARKS = 8
/** RFC 6265bis §5.5: user agents cap cookie lifetimes at 400 days. */
const DEVICE_COOKIE_AGE = 400 * 86400

/** "Chrome on Linux, network 203.0.113.0/24": how a notice says where a sign-in came from, coarsely. */
export function describeOrigin(
  userAgent: string | null | undefined,
  ip: string | null | undefined,
): string | undefined {
  const ua = userAgent ?? ''
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(ua)
        ? 'Chrome'
        : /Safari\//.test(ua)
          ? 'Safari'
          : ua
            ? t('mail.notice.aBrowser')
            : undefined
  const os = /Windows/.test(ua)
    ? 'Windows'
    : /Android/.test(ua)
      ? 'Android'
      : /iPhone|iPad/.test(ua)
        ? 'iOS'
        : /Mac OS X/.test(ua)
          ? 'macOS'
          : /Linux/.test(ua)
            ? 'Linux'
            : undefined
  const net = ip ? networkOf(ip) : undefined
  const parts = [
    browser && (os ? t('mail.notice.browserOn', { browser, os }) : browser),
    net && t('mail.notice.network', { net }),
  ].filter(Boolean)
  return parts.length ? parts.join(', ') : undefined
}

/** The /24 (IPv4) or /48 (IPv6) an address is in: where, without the exact address. */
function networkOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.(\d+)\.\d+$/.exec(ip)
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`
  const groups = ip.split(':').slice(0, 3).filter(Boolean)
  return groups.length ? `${groups.join(':')}::/48` : ip
}

/** second-factor types a notice names (`mail.notice.factor.*`) */
const MFA_TYPES = new Set(['totp', 'webauthn'])

/**
 * Security notices to users (issue 14 §5), each one a setting (SECURITY_NOTICES):
 * - `password_changed`, `mfa_changed`, `api_key_created`, `account_locked` follow the audit log
 *   (an observer): whatever path made the change — account page, sign-in, reset link, admin API,
 *   CLI — the notice goes out, and it is only sent for what was really recorded;
 * - `new_device` is decided at sign-in (`signedIn`): a browser is known to an account when it
 *   carries the account's mark in a long-lived cookie (`portcullis_device`: a random browser id
 *   and, per account signed in from it, an HMAC of the id and the account). No fingerprinting,
 *   nothing stored on the server; clearing cookies makes the browser new again. The very first
 *   sign-in of an account sends nothing (there is no earlier device to compare with).
 * Mails go through the outbox, carry no secret and no acting link: they say what, when and from
 * where, and point to the forgotten-password page as the "this wasn't me" way out.
 */
export function securityNotices(deps: {
  users: UserService
  mail: Mailer
  audit: AuditLog
  logger: Logger
  options: SecurityNoticeOptions
  /** did this account complete a sign-in before `before` (the audit log's `login` records)? */
  signedInBefore: (userId: string, before: Date) => Promise<boolean>
}) {
  const o = deps.options
  const on = (k: SecurityNotice) => o.enabled.includes(k)
  const https = o.publicUrl.startsWith('https:')
  const cookieName = https ? '__Host-portcullis_device' : 'portcullis_device'

  async function send(
    user: Pick<UserRecord, 'email' | 'disabled'>,
    kind: NoticeKind,
    e: { detail?: string; userAgent?: string | null; ip?: string | null },
  ) {
    if (user.disabled) return
    await deps.mail.send(
      `notice_${kind}`,
      securityNotice(o.brand, {
        to: user.email,
        kind,
        detail: e.detail,
        when: new Date(),
        from: describeOrigin(e.userAgent, e.ip),
        resetUrl: `${o.publicUrl}/password/forgot`,
        accountUrl: `${o.publicUrl}/account`,
      }),
    )
  }
  const detached = (p: Promise<unknown>, kind: string) =>
    void p.catch((err: unknown) =>
      deps.logger.warn({ err: (err as Error).message, kind }, 'security notice not queued'),
    )
  const byId = async (id: string | null | undefined) => (id ? deps.users.findById(id) : null)

  /** Which notice an audit event calls for, and for whom. */
  async function fromAudit(e: AuditEventView) {
    if (e.outcome !== 'success' && e.action !== 'user.locked') return
    const d = e.parsedDetails
    const meta = { userAgent: e.userAgent, ip: e.ip }
    if (on('password_changed') && (e.action === 'password.changed' || e.action === 'user.password_reset')) {
      const u = await byId(e.target)
      if (u) await send(u, 'password_changed', meta)
    } else if (
      on('mfa_changed') &&
      (e.action === 'mfa.enrolled' || e.action === 'mfa.removed' || e.action === 'user.mfa_reset')
    ) {
      const u = await byId(e.target)
      const type = typeof d.type === 'string' && MFA_TYPES.has(d.type) ? t(`mail.notice.factor.${d.type}`) : undefined
      if (u)
        await send(u, e.action === 'mfa.enrolled' ? 'mfa_added' : 'mfa_removed', {
          ...meta,
          detail: e.action === 'user.mfa_reset' ? t('mail.notice.allFactors') : type,
        })
    } else if (
      on('api_key_created') &&
      e.action === 'apikey.created' &&
      typeof d.owner === 'string' &&
      d.owner.startsWith('user:')
    ) {
      const u = await byId(d.owner.slice(5))
      if (u) await send(u, 'api_key_created', { ...meta, detail: typeof d.name === 'string' ? d.name : undefined })
    } else if (on('account_locked') && e.action === 'user.locked' && d.scope === 'account' && e.target) {
      const u = await deps.users.findByEmail(e.target)
      const minutes = typeof d.seconds === 'number' ? Math.max(1, Math.round(d.seconds / 60)) : undefined
      if (u)
        await send(u, 'account_locked', {
          ...meta,
          detail: minutes ? t('mail.minutes', { count: minutes }) : undefined,
        })
    }
  }

  const mark = (deviceId: string, userId: string) =>
    crypto.createHmac('sha256', o.deviceKey).update(`device:${deviceId}:${userId}`).digest('base64url').slice(0, 16)
  function parse(cookie: string | undefined) {
    const [v, id, ...marks] = (cookie ?? '').split('.')
    if (v !== 'v1' || !id || !DEVICE_ID.test(id))
      return { id: crypto.randomBytes(16).toString('base64url'), marks: [] as string[] }
    return { id, marks: marks.filter((m) => MARK.test(m)).slice(-MAX_MARKS) }
  }

  return {
    cookieName,
    /** Starts following the audit log (once). */
    start() {
      return deps.audit.observe((e) => {
        if (
          [
            'password.changed',
            'user.password_reset',
            'mfa.enrolled',
            'mfa.removed',
            'user.mfa_reset',
            'apikey.created',
            'user.locked',
          ].includes(e.action)
        )
          detached(fromAudit(e), e.action)
      })
    },
    /**
     * A sign-in (not yet recorded) completes in a browser that sent `cookie`: returns the
     * Set-Cookie header that remembers the browser for this account, and when the browser is
     * new to an account that signed in before, mails a notice — after the answer, so a sign-in
     * never waits for it, and a known browser costs no lookup at all.
     */
    signedIn(cookie: string | undefined, userId: string, m: { ip?: string | null; userAgent?: string | null }): string {
      const d = parse(cookie)
      const mine = mark(d.id, userId)
      const known = d.marks.includes(mine)
      if (!known && on('new_device')) {
        // Asked after the answer, when this sign-in may be recorded already: only earlier ones count.
        const now = new Date()
        detached(
          (async () => {
            if (!(await deps.signedInBefore(userId, now))) return
            const user = await deps.users.findById(userId)
            if (user) await send(user, 'new_device', m)
          })(),
          'new_device',
        )
      }
      const marks = [...d.marks.filter((x) => x !== mine), mine].slice(-MAX_MARKS)
      return `${cookieName}=v1.${d.id}.${marks.join('.')}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${DEVICE_COOKIE_AGE}${https ? '; Secure' : ''}`
    },
  }
}
export type SecurityNotices = ReturnType<typeof securityNotices>

import ipaddr from 'ipaddr.js'
import type { Logger } from 'pino'
import type { AuditEventView, AuditLog } from './log.ts'
import type { AuditQueries } from './queries.ts'
import { insideWindow, type AdminWindow } from './admin-window.ts'
import { memoryWindows, type DetectorWindows } from './detector-windows.ts'

/**
 * Security detectors. They observe audit events as they are recorded (an in-process observer
 * feeding sliding windows: in memory per instance, or in Redis shared by every instance — see
 * detector-windows.ts) and raise alerts, which are themselves audit events
 * (`alert.<kind>`, outcome info, actor `monitor`), counted in portcullis_security_alerts_total
 * and delivered to the webhook like every other record. Each alert fires once per subject and
 * window (a cooldown), so an ongoing attack is one alert, not thousands.
 *
 * What they read (the contract for features that record events):
 * - `login` failure/success, target = the account tried (email), actor = user id on success,
 *   ip and userAgent from the request;
 * - `mfa.*` actions: a challenge is an action containing "challenge" (or any failure); a
 *   success that is not a challenge ends the streak;
 * - `apikey.rejected` with details.reason `revoked` | `expired` (c.monitor.apiKeyRejected);
 * - admin changes: actions under admin., user., client., resource., apikey., policy., keys.,
 *   config., role. with outcome success.
 */
export interface DetectorSettings {
  /** password spraying: one IP or subnet (/24, /64) failing on many accounts, few tries each */
  spray: { windowMs: number; minAccounts: number; maxAttemptsPerAccount: number }
  /** credential stuffing: a burst of failures over many accounts, from anywhere */
  stuffing: { windowMs: number; minFailures: number; minAccounts: number }
  /** new IP (subnet) / device for a user: compared with their successful logins in this period */
  newSource: { lookbackDays: number }
  /** MFA fatigue: repeated challenges for one user without a success */
  mfaFatigue: { windowMs: number; minChallenges: number }
  adminWindow?: AdminWindow
}

export const DEFAULT_DETECTORS: DetectorSettings = {
  spray: { windowMs: 10 * 60_000, minAccounts: 10, maxAttemptsPerAccount: 3 },
  stuffing: { windowMs: 60_000, minFailures: 50, minAccounts: 20 },
  newSource: { lookbackDays: 90 },
  mfaFatigue: { windowMs: 10 * 60_000, minChallenges: 5 },
}

export type AlertKind =
  | 'password_spraying'
  | 'credential_stuffing'
  | 'new_ip'
  | 'new_device'
  | 'mfa_fatigue'
  | 'apikey_misuse'
  | 'admin_off_hours'
const SEVERITY: Record<AlertKind, 'low' | 'medium' | 'high'> = {
  password_spraying: 'high',
  credential_stuffing: 'high',
  new_ip: 'low',
  new_device: 'low',
  mfa_fatigue: 'high',
  apikey_misuse: 'medium',
  admin_off_hours: 'medium',
}

const ADMIN_ACTION = /^(admin|user|client|resource|apikey|policy|keys|config|role)\./
const NOT_ADMIN = new Set(['apikey.rejected', 'apikey.used', 'user.locked', 'user.unlocked'])
const SYSTEM_ACTORS = new Set(['system', 'bootstrap', 'monitor'])

/** The /24 (IPv4) or /64 (IPv6) an address belongs to; IPv4-mapped IPv6 counts as IPv4. */
export function subnetOf(ip: string): string {
  try {
    const a = ipaddr.process(ip)
    if (a.kind() === 'ipv4') return `${a.toByteArray().slice(0, 3).join('.')}.0/24`
    const parts = (a as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16))
    return `${parts.join(':')}::/64`
  } catch {
    return ip
  }
}

/** Browser family and platform: version numbers removed, so an update is not a new device. */
export const deviceOf = (ua: string) => ua.replace(/\d+([._]\d+)*/g, '#').slice(0, 256)

type Alert = (
  kind: AlertKind,
  subject: string,
  windowMs: number,
  e: AuditEventView,
  details: Record<string, unknown>,
) => Promise<void>
/** What a detector reads: the settings, the windows, past sign-ins, and how to raise an alert. */
interface DetectorContext {
  s: DetectorSettings
  windows: DetectorWindows
  queries: AuditQueries
  alert: Alert
}

/** Password spraying (one source, many accounts, few tries each) and credential stuffing (a burst from anywhere). */
async function loginFailure({ s, windows, alert }: DetectorContext, e: AuditEventView) {
  const account = (e.target ?? e.actor ?? '').toLowerCase()
  if (!account) return
  const now = e.time.getTime()
  const ip = e.ip ?? 'unknown'
  const hit = { t: now, account, ip }

  if (e.ip) {
    const subnet = subnetOf(e.ip)
    const hits = await windows.push(`spray:${subnet}`, hit, s.spray.windowMs)
    const perAccount = new Map<string, number>()
    for (const h of hits) perAccount.set(h.account, (perAccount.get(h.account) ?? 0) + 1)
    const few = [...perAccount.values()].filter((n) => n <= s.spray.maxAttemptsPerAccount).length
    if (few >= s.spray.minAccounts) {
      const ips = new Set(hits.map((h) => h.ip))
      await alert('password_spraying', ips.size === 1 ? e.ip : subnet, s.spray.windowMs, e, {
        source: ips.size === 1 ? e.ip : subnet,
        source_ips: ips.size,
        accounts: perAccount.size,
        attempts: hits.length,
      })
    }
  }

  const global = await windows.push('stuffing', hit, s.stuffing.windowMs)
  if (global.length >= s.stuffing.minFailures) {
    const accounts = new Set(global.map((h) => h.account)).size
    if (accounts >= s.stuffing.minAccounts) {
      await alert('credential_stuffing', 'login', s.stuffing.windowMs, e, {
        failures: global.length,
        accounts,
        source_ips: new Set(global.map((h) => h.ip)).size,
      })
    }
  }
}

/** A sign-in from a subnet or device the user has not used in the lookback period. */
async function loginSuccess({ s, queries, alert }: DetectorContext, e: AuditEventView) {
  if (!e.actor || (!e.ip && !e.userAgent)) return
  const since = new Date(e.time.getTime() - s.newSource.lookbackDays * 86_400_000)
  const seen = await queries.loginSources(e.actor, since, e.time)
  if (!seen.length) return // first sign-in: nothing to compare with
  const subnet = e.ip ? subnetOf(e.ip) : undefined
  if (subnet && !seen.some((r) => r.ip && subnetOf(r.ip) === subnet)) {
    await alert('new_ip', e.actor, 60_000, e, { user: e.actor, account: e.target, ip: e.ip, subnet })
  }
  const device = e.userAgent ? deviceOf(e.userAgent) : undefined
  if (device && !seen.some((r) => r.userAgent && deviceOf(r.userAgent) === device)) {
    await alert('new_device', e.actor, 60_000, e, { user: e.actor, account: e.target, user_agent: e.userAgent })
  }
}

export function securityMonitor(deps: {
  audit: AuditLog
  queries: AuditQueries
  logger: Logger
  onAlert?: (kind: AlertKind) => void
  settings?: Partial<DetectorSettings>
  /** where windows and cooldowns live; default in memory (per instance) */
  windows?: DetectorWindows
}) {
  const s: DetectorSettings = { ...DEFAULT_DETECTORS, ...deps.settings }
  const windows = deps.windows ?? memoryWindows()
  // Events are handled one after another, in the order they were recorded: window state may be
  // remote (Redis), and concurrent handlers could otherwise both see "first" or skip a count.
  let queue: Promise<void> = Promise.resolve()

  async function alert(
    kind: AlertKind,
    subject: string,
    windowMs: number,
    e: AuditEventView,
    details: Record<string, unknown>,
  ) {
    if (!(await windows.claim(`${kind}|${subject}`, e.time.getTime(), windowMs))) return
    deps.onAlert?.(kind)
    deps.logger.warn({ alert: kind, subject }, 'security alert')
    void deps.audit.record({
      action: `alert.${kind}`,
      outcome: 'info',
      actor: 'monitor',
      target: subject,
      ip: e.ip,
      userAgent: e.userAgent,
      requestId: e.requestId,
      details: { kind, severity: SEVERITY[kind], window_seconds: Math.round(windowMs / 1000), ...details },
    })
  }

  const m: DetectorContext = { s, windows, queries: deps.queries, alert }

  async function mfaEvent(e: AuditEventView) {
    const user = e.actor ?? e.target
    if (!user) return
    const now = e.time.getTime()
    if (/challenge/.test(e.action) || e.outcome === 'failure') {
      const times = await windows.push(`mfa:${user}`, { t: now, account: user, ip: e.ip ?? '' }, s.mfaFatigue.windowMs)
      if (times.length >= s.mfaFatigue.minChallenges)
        await alert('mfa_fatigue', user, s.mfaFatigue.windowMs, e, { user, challenges: times.length })
    } else if (e.outcome === 'success') {
      await windows.clear(`mfa:${user}`)
    }
  }

  async function handle(e: AuditEventView) {
    if (e.action === 'login') {
      if (e.outcome === 'failure') await loginFailure(m, e)
      else if (e.outcome === 'success') await loginSuccess(m, e)
    } else if (e.action.startsWith('mfa.')) {
      await mfaEvent(e)
    } else if (e.action === 'apikey.rejected') {
      const reason = String(e.parsedDetails.reason ?? '')
      if (reason === 'revoked' || reason === 'expired') {
        await alert('apikey_misuse', e.target ?? 'unknown', 10 * 60_000, e, {
          key_id: e.target,
          reason,
          owner: e.parsedDetails.owner ?? null,
        })
      }
    }
    if (
      s.adminWindow &&
      ADMIN_ACTION.test(e.action) &&
      !NOT_ADMIN.has(e.action) &&
      e.outcome === 'success' &&
      !SYSTEM_ACTORS.has(e.actor ?? 'system') &&
      !insideWindow(s.adminWindow, e.time)
    ) {
      await alert('admin_off_hours', `${e.actor}|${e.action}`, 60 * 60_000, e, {
        admin: e.actor,
        admin_action: e.action,
        admin_target: e.target,
        window: s.adminWindow.text,
      })
    }
  }

  function observe(e: AuditEventView) {
    if (e.action.startsWith('alert.')) return
    queue = queue
      .then(() => handle(e))
      .catch((err: unknown) => deps.logger.warn({ err, action: e.action }, 'security detector failed'))
  }

  const unsubscribe = deps.audit.observe(observe)
  return {
    settings: s,
    /**
     * The hook for API-key verification: call it when a presented key is refused. Records
     * `apikey.rejected` (never the key itself); revoked and expired keys raise an alert.
     */
    apiKeyRejected(e: {
      keyId: string
      reason: 'revoked' | 'expired' | 'unknown' | 'invalid' | string
      owner?: string
      ip?: string
      userAgent?: string
      requestId?: string
    }) {
      return deps.audit.record({
        action: 'apikey.rejected',
        outcome: 'failure',
        actor: e.owner ?? null,
        target: e.keyId,
        ip: e.ip,
        userAgent: e.userAgent,
        requestId: e.requestId,
        details: { reason: e.reason, ...(e.owner ? { owner: e.owner } : {}) },
      })
    },
    /** Resolves once every event observed so far has been through the detectors. */
    settled: () => queue,
    stop: () => {
      unsubscribe()
    },
  }
}
export type SecurityMonitor = ReturnType<typeof securityMonitor>

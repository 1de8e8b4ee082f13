import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testContainer } from '../helpers/container.ts'
import {
  securityMonitor,
  subnetOf,
  deviceOf,
  type AlertKind,
  type DetectorSettings,
} from '../../src/audit/detectors.ts'
import { redisTestUrl } from '../../src/db/testing.ts'
import { insideWindow, parseAdminWindow, type AdminWindow } from '../../src/audit/admin-window.ts'
import { loadConfig } from '../../src/config/env.ts'
import { createLogger } from '../../src/logger.ts'
import type { AuditInput } from '../../src/audit/log.ts'

/**
 * Each detector is fed a scripted attack (an alert must fire, once) and a benign pattern
 * (nothing may fire). Events go through the real audit log; alerts come back as audit records.
 */
type T = Awaited<ReturnType<typeof testContainer>>
let t: T

beforeAll(async () => {
  t = await testContainer('sqlite')
  t.c.monitor.stop() // each scenario below gets a fresh monitor (fresh windows)
})
afterAll(async () => {
  await t?.dispose()
})

/** A fresh monitor on the container's audit log; returns the alerts it raised. */
function watch(settings: Partial<DetectorSettings> = {}) {
  const kinds: AlertKind[] = []
  const m = securityMonitor({
    audit: t.c.audit,
    queries: t.c.queries.audit,
    logger: createLogger('silent'),
    onAlert: (k) => kinds.push(k),
    settings,
  })
  // stop() waits until every event recorded so far went through the detectors.
  return {
    kinds,
    m,
    stop: async () => {
      await m.settled()
      m.stop()
    },
  }
}
const fail = (account: string, ip: string): AuditInput => ({
  action: 'login',
  outcome: 'failure',
  target: account,
  ip,
  userAgent: 'Mozilla/5.0',
  details: { reason: 'bad_password', method: 'pwd' },
})
const ok = (user: string, ip: string, ua: string): AuditInput => ({
  action: 'login',
  outcome: 'success',
  actor: user,
  target: `${user}@example.com`,
  ip,
  userAgent: ua,
  details: { method: 'pwd' },
})

async function alertsSince(seq: number, kind: string) {
  await t.c.audit.flush()
  return (await t.c.audit.list({ action: `alert.${kind}`, limit: 100 })).filter((e) => e.seq > seq)
}
const mark = async () => {
  await t.c.audit.flush()
  return (await t.c.queries.audit.tail())?.seq ?? 0
}

describe('password spraying', () => {
  it('fires once for one IP failing on many accounts, a few tries each', async () => {
    const w = watch()
    const since = await mark()
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 12; i++) void t.c.audit.record(fail(`victim${i}@example.com`, '198.51.100.7'))
    await w.stop()
    expect(w.kinds).toEqual(['password_spraying'])
    const [alert] = await alertsSince(since, 'password_spraying')
    expect(alert).toMatchObject({ actor: 'monitor', target: '198.51.100.7', outcome: 'info' })
    expect(alert!.details).toMatchObject({
      kind: 'password_spraying',
      severity: 'high',
      source: '198.51.100.7',
      accounts: expect.any(Number),
    })
  })

  it('fires for a /24 (and a /64) spreading the same attack over many addresses', async () => {
    const w = watch()
    for (let i = 0; i < 10; i++) void t.c.audit.record(fail(`v${i}@example.com`, `203.0.113.${i + 1}`))
    for (let i = 0; i < 10; i++) void t.c.audit.record(fail(`w${i}@example.com`, `2001:db8:1:2::${i + 1}`))
    await w.stop()
    expect(w.kinds).toEqual(['password_spraying', 'password_spraying'])
    expect(subnetOf('203.0.113.9')).toBe('203.0.113.0/24')
    expect(subnetOf('::ffff:203.0.113.9')).toBe('203.0.113.0/24')
    expect(subnetOf('2001:db8:1:2::99')).toBe('2001:db8:1:2::/64')
  })

  it('stays quiet for an office of users mistyping, and for one account hammered (that is lockout)', async () => {
    const w = watch()
    for (const user of ['ann', 'bob', 'cy'])
      for (let i = 0; i < 3; i++) void t.c.audit.record(fail(`${user}@example.com`, '192.0.2.1'))
    for (let i = 0; i < 30; i++) void t.c.audit.record(fail('ceo@example.com', '192.0.2.200'))
    await w.stop()
    expect(w.kinds).toEqual([])
  })
})

describe('credential stuffing', () => {
  it('fires once for a burst of failures over many accounts from many networks', async () => {
    const w = watch()
    for (let i = 0; i < 80; i++) void t.c.audit.record(fail(`leaked${i}@example.com`, `10.${i}.${i % 7}.9`))
    await w.stop()
    expect(w.kinds).toEqual(['credential_stuffing'])
  })

  it('stays quiet for ordinary failure rates', async () => {
    const w = watch()
    for (let i = 0; i < 30; i++) void t.c.audit.record(fail(`user${i}@example.com`, `10.${i}.1.1`))
    await w.stop()
    expect(w.kinds).toEqual([])
  })
})

describe('new IP or device', () => {
  it('baselines the first sign-in, ignores browser updates, fires for a new network and a new device', async () => {
    const w = watch()
    await t.c.audit.record(ok('u-new', '192.0.2.10', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0'))
    await t.c.audit.record(ok('u-new', '192.0.2.11', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0'))
    await new Promise((r) => setTimeout(r, 50))
    expect(w.kinds).toEqual([])
    await t.c.audit.record(ok('u-new', '198.18.7.7', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/121.0'))
    await new Promise((r) => setTimeout(r, 50))
    expect(w.kinds).toEqual(['new_ip'])
    await t.c.audit.record(ok('u-new', '192.0.2.10', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1'))
    await new Promise((r) => setTimeout(r, 50))
    expect(w.kinds).toEqual(['new_ip', 'new_device'])
    await w.stop()
    expect(deviceOf('Firefox/120.0')).toBe(deviceOf('Firefox/121.0.1'))
  })
})

describe('MFA fatigue', () => {
  it('fires for repeated challenges without a success', async () => {
    const w = watch()
    for (let i = 0; i < 6; i++)
      void t.c.audit.record({ action: 'mfa.challenge', outcome: 'info', actor: 'u-push', details: { method: 'push' } })
    await w.stop()
    expect(w.kinds).toEqual(['mfa_fatigue'])
  })

  it('stays quiet when challenges are answered', async () => {
    const w = watch()
    for (let i = 0; i < 4; i++) {
      void t.c.audit.record({ action: 'mfa.challenge', outcome: 'info', actor: 'u-fine' })
      void t.c.audit.record({ action: 'mfa.verify', outcome: 'success', actor: 'u-fine' })
    }
    await w.stop()
    expect(w.kinds).toEqual([])
  })
})

describe('revoked or expired API keys', () => {
  it('fires for a revoked or an expired key (via the hook), not for an unknown one', async () => {
    const w = watch()
    const since = await mark()
    await w.m.apiKeyRejected({ keyId: 'key-1', reason: 'revoked', owner: 'svc', ip: '192.0.2.5' })
    await w.m.apiKeyRejected({ keyId: 'key-2', reason: 'expired' })
    await w.m.apiKeyRejected({ keyId: 'key-3', reason: 'unknown' })
    void t.c.audit.record({
      action: 'apikey.rejected',
      outcome: 'failure',
      target: 'key-1',
      details: { reason: 'revoked' },
    }) // within the cooldown
    await w.stop()
    expect(w.kinds).toEqual(['apikey_misuse', 'apikey_misuse'])
    const alerts = await alertsSince(since, 'apikey_misuse')
    expect(alerts.map((a) => a.target).sort()).toEqual(['key-1', 'key-2'])
    const rejected = (await t.c.audit.list({ action: 'apikey.rejected' })).find((e) => e.target === 'key-1' && e.ip)!
    expect(rejected).toMatchObject({
      outcome: 'failure',
      ip: '192.0.2.5',
      details: { reason: 'revoked', owner: 'svc' },
    })
  })
})

describe('admin actions outside the window', () => {
  const hh = (h: number) => String(((h % 24) + 24) % 24).padStart(2, '0')
  const win = (text: string) => parseAdminWindow(text) as AdminWindow

  it('fires for an admin change outside the window, not inside it nor for sign-ins', async () => {
    const h = new Date().getUTCHours()
    const outside = watch({ adminWindow: win(`${hh(h + 2)}:00-${hh(h + 3)}:00`) })
    void t.c.audit.record({ action: 'client.updated', outcome: 'success', actor: 'client:root', target: 'web' })
    void t.c.audit.record({ action: 'login', outcome: 'success', actor: 'u-x', target: 'x@example.com' })
    void t.c.audit.record({ action: 'user.created', outcome: 'success', actor: 'bootstrap', target: 'admin' })
    await outside.stop()
    expect(outside.kinds).toEqual(['admin_off_hours'])

    const inside = watch({ adminWindow: win(`${hh(h)}:00-${hh(h + 1)}:00`) })
    void t.c.audit.record({ action: 'client.updated', outcome: 'success', actor: 'client:root', target: 'web' })
    await inside.stop()
    expect(inside.kinds).toEqual([])
  })

  it('parses windows with days, time zones and midnight shifts; rejects bad ones', () => {
    const w = win('mon-fri 09:00-17:00 Europe/Berlin')
    expect(insideWindow(w, new Date('2025-01-06T08:30:00Z'))).toBe(true) // Monday 09:30 in Berlin
    expect(insideWindow(w, new Date('2025-01-06T16:30:00Z'))).toBe(false) // 17:30
    expect(insideWindow(w, new Date('2025-01-04T10:00:00Z'))).toBe(false) // Saturday
    const night = win('mon 22:00-06:00')
    expect(insideWindow(night, new Date('2025-01-06T23:00:00Z'))).toBe(true)
    expect(insideWindow(night, new Date('2025-01-07T05:00:00Z'))).toBe(true) // Tuesday early, Monday's shift
    expect(insideWindow(night, new Date('2025-01-07T23:00:00Z'))).toBe(false)
    for (const bad of ['9-17', 'someday 09:00-17:00', '09:00-17:00 Mars/Base', '25:00-26:00'])
      expect(typeof parseAdminWindow(bad), bad).toBe('string')
    expect(() => loadConfig({ AUDIT_ADMIN_WINDOW: 'whenever' })).toThrow(/AUDIT_ADMIN_WINDOW/)
    expect(loadConfig({ AUDIT_ADMIN_WINDOW: 'mon-fri 08:00-18:00 UTC' }).AUDIT_ADMIN_WINDOW).toBe(
      'mon-fri 08:00-18:00 UTC',
    )
  })
})

describe('several instances sharing Redis', () => {
  const redisUrl = redisTestUrl()
  if (!redisUrl) {
    console.warn('audit-detectors.test.ts: the shared-Redis suite is skipped: set TEST_REDIS_URL')
    it.skip('needs TEST_REDIS_URL', () => {})
    return
  }
  // Two instances (each its own container and audit log, as two processes would have) with
  // the same REDIS_URL and prefix; a load balancer hands each half of the attack.
  let a: T
  let b: T
  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl, REDIS_PREFIX: `pc-test-${Math.random().toString(36).slice(2, 10)}:` }
    ;[a, b] = await Promise.all([testContainer('sqlite', env), testContainer('sqlite', env)])
  })
  afterAll(async () => {
    const keys = await a.c.redis!.keys(`${a.c.config.REDIS_PREFIX}*`)
    if (keys.length) await a.c.redis!.del(...keys)
    await Promise.all([a?.dispose(), b?.dispose()])
  })

  // One event at a time, handled before the next, as requests spread over time would be.
  const rec = async (inst: T, input: AuditInput) => {
    await inst.c.audit.record(input)
    await inst.c.monitor.settled()
  }

  it('count an attack spread over both, and alert once for the cluster', async () => {
    const alerts = async () => {
      await Promise.all([a.c.monitor.settled(), b.c.monitor.settled()])
      return [
        ...(await a.c.audit.list({ action: 'alert.password_spraying' })),
        ...(await b.c.audit.list({ action: 'alert.password_spraying' })),
      ]
    }
    // 12 accounts, 6 per instance: each alone stays under the 10-account threshold; together
    // they reach it at the 10th (5 on each).
    for (let i = 0; i < 12; i++) await rec(i % 2 ? a : b, fail(`spread${i}@example.com`, '198.51.100.77'))
    const first = await alerts()
    expect(first).toHaveLength(1)
    expect(first[0]).toMatchObject({ target: '198.51.100.77', details: { accounts: 10 } })
    // The attack goes on, on both: still one alert (the cooldown is shared too).
    for (let i = 12; i < 20; i++) await rec(i % 2 ? a : b, fail(`spread${i}@example.com`, '198.51.100.77'))
    expect(await alerts()).toHaveLength(1)
  })

  it('MFA fatigue over both instances, ended by a success on either', async () => {
    // 4 challenges on b, answered on a, 4 more on b: a success anywhere ends the streak.
    for (let i = 0; i < 4; i++) await rec(b, { action: 'mfa.challenge', outcome: 'info', actor: 'u-both' })
    await rec(a, { action: 'mfa.verify', outcome: 'success', actor: 'u-both' })
    for (let i = 0; i < 4; i++) await rec(b, { action: 'mfa.challenge', outcome: 'info', actor: 'u-both' })
    const fatigue = async () => [
      ...(await a.c.audit.list({ action: 'alert.mfa_fatigue' })),
      ...(await b.c.audit.list({ action: 'alert.mfa_fatigue' })),
    ]
    expect(await fatigue()).toHaveLength(0)
    // The fifth unanswered challenge arrives on a: counted with b's four.
    await rec(a, { action: 'mfa.challenge', outcome: 'info', actor: 'u-both' })
    expect((await fatigue()).map((e) => e.target)).toEqual(['u-both'])
  })
})

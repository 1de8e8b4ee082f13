import type { Metrics } from '../metrics/registry.ts'
import type { AuditLog } from './log.ts'
import type { AuditQueries } from './queries.ts'

/**
 * Feeds the counters that have an audit event, so features only record the event:
 * - `login` → portcullis_logins_total{outcome, method} (details.method, e.g. pwd, otp, webauthn)
 * - `*.locked` / `lockout` (success) → portcullis_lockouts_total
 * - `token.issued` → portcullis_tokens_issued_total{grant_type, client_id, outcome}
 * and registers the audit gauges computed at scrape time.
 */
export function auditMetrics(log: AuditLog, q: AuditQueries, m: Metrics) {
  log.observe((e) => {
    if (e.action === 'login') {
      m.logins.inc({ outcome: e.outcome, method: String(e.parsedDetails.method ?? 'unknown').slice(0, 32) })
    } else if ((/\.locked$/.test(e.action) || e.action === 'lockout') && e.outcome !== 'failure') {
      m.lockouts.inc()
    } else if (e.action === 'token.issued') {
      m.tokensIssued.inc({
        grant_type: String(e.parsedDetails.grant_type ?? 'unknown').slice(0, 64),
        client_id: e.actor ?? 'unknown',
        outcome: e.outcome,
      })
    }
  })
  log.onCommitted((rows) => m.auditRecords.inc(rows.length))
  m.gaugeSource(m.auditChainLength, async () => {
    const b = await q.bounds()
    m.auditChainLength.set(b.first === undefined || b.last === undefined ? 0 : b.last - b.first + 1)
  })
  m.gaugeSource(m.auditLastSeq, async () => m.auditLastSeq.set((await q.tail())?.seq ?? 0))
  m.gaugeSource(m.auditCheckpointAge, async () => {
    const newest = await q.checkpoints.newest()
    m.auditCheckpointAge.reset()
    if (newest) m.auditCheckpointAge.set((Date.now() - newest.createdAt.getTime()) / 1000)
  })
  m.gaugeSource(m.auditOutboxPending, async () => m.auditOutboxPending.set(await q.outbox.pending()))
}

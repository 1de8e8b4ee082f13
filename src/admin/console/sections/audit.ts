import type Router from '@koa/router'
import { z } from 'zod'
import { html, type SafeHtml } from '../../../views/html.ts'
import { messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { field, problem, select, when } from '../pages/layout.ts'

interface AuditEvent {
  seq?: number
  time: string
  actor: string
  action: string
  target: string | null
  outcome: string
  ip?: string | null
}
const eventQuery = z.object({
  actor: z.string().max(200).optional(),
  action: z.string().max(200).optional(),
  target: z.string().max(200).optional(),
  outcome: z.enum(['', 'success', 'failure', 'info']).optional(),
  cursor: z.string().max(200).optional(),
})
export interface Report {
  period: { from: string; to: string }
  audit: { ok: boolean; records: number; problems: unknown[] }
  alerts: Record<string, number>
  signing_keys: { oldest_active_age_days: number; rotation_due: boolean }
  api_keys: {
    available: boolean
    near_expiry?: { id: string; name: string | null; owner: string | null; expires_at: string | null }[]
  }
  users: { total: number; disabled: number; mfa: { without_mfa: unknown[] } }
  access_reviews: {
    completed: { id: string; name: string; completed_at: string; confirmed: number; revoked: number }[]
  }
}

/** The parts of the compliance report an operator looks at first; the whole report is one link away. */
export function reportSummary(r: Report): SafeHtml {
  const alerts = Object.entries(r.alerts)
  return html`<dl class="props">
<dt>Audit chain</dt><dd>${r.audit.ok ? html`<span class="badge">intact</span> ${r.audit.records} records` : html`<span class="badge off">broken</span> ${r.audit.problems.length} problem(s)`}</dd>
<dt>Signing keys</dt><dd>oldest active key ${r.signing_keys.oldest_active_age_days} days old${r.signing_keys.rotation_due ? html` · <strong>rotation due</strong>` : ''}</dd>
<dt>Detector alerts</dt><dd>${alerts.length ? alerts.map(([k, n]) => `${k}: ${n}`).join(', ') : 'none'}</dd>
<dt>API keys near expiry</dt><dd>${r.api_keys.available ? (r.api_keys.near_expiry?.length ? r.api_keys.near_expiry.map((k) => `${k.name ?? k.id} (${when(k.expires_at)})`).join(', ') : 'none') : 'not available'}</dd>
</dl>`
}

/** Audit events (filters, cursor paging) and the compliance report, for the auditor role. */
export function auditRoutes(router: Router, kit: ConsoleKit) {
  router.get('/audit', async (ctx) => {
    const parsed = eventQuery.safeParse(ctx.query)
    const q = parsed.success ? parsed.data : {}
    const params = new URLSearchParams({ limit: '50' })
    for (const k of ['actor', 'action', 'target', 'outcome', 'cursor'] as const)
      if (q[k]?.trim()) params.set(k, q[k].trim())
    const a = await kit.api<{ events: AuditEvent[]; next_cursor: string | null }>(
      ctx,
      'GET',
      `/admin/v1/audit/events?${params}`,
    )
    if (a.status === 403) return kit.render(ctx, 'Audit', '/admin/audit', problem('Audit', messageOf(a), '/admin'), 403)
    const events = a.status === 200 ? a.body.events : []
    const filters = Object.fromEntries(
      ['actor', 'action', 'target', 'outcome'].filter((k) => params.has(k)).map((k) => [k, params.get(k)!]),
    )
    const next =
      a.status === 200 && a.body.next_cursor
        ? `/admin/audit?${new URLSearchParams({ ...filters, cursor: a.body.next_cursor })}`
        : undefined
    kit.render(
      ctx,
      'Audit',
      '/admin/audit',
      html`<h1>Audit log</h1>
<p><a href="/admin/audit/report">Compliance report</a></p>
<form role="search" method="get" action="/admin/audit">
${field({ name: 'actor', label: 'Actor', value: q.actor, hint: 'user:ID, client:ID, cli…' })}
${field({ name: 'action', label: 'Action', value: q.action, hint: 'e.g. keys.rotated, or a prefix like policy.*' })}
${field({ name: 'target', label: 'Target', value: q.target })}
${select(
  'outcome',
  'Outcome',
  [
    ['', 'Any'],
    ['success', 'Success'],
    ['failure', 'Failure'],
    ['info', 'Info'],
  ],
  q.outcome ?? '',
)}
<button type="submit">Filter</button>
</form>
${a.status === 200 ? '' : html`<p class="error" role="alert">${messageOf(a)}</p>`}
<table><caption class="hint">${events.length ? `${events.length} event${events.length === 1 ? '' : 's'}, newest first` : 'No events match'}</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Outcome</th></tr></thead>
<tbody>${events.map((e) => html`<tr><td>${when(e.time)}</td><td>${e.actor}</td><td><code>${e.action}</code></td><td>${e.target ?? ''}</td><td>${e.outcome}</td></tr>`)}</tbody></table>
<nav class="pager" aria-label="Pages">${q.cursor ? html`<a href="/admin/audit?${new URLSearchParams(filters).toString()}">First page</a>` : ''}${next ? html` <a rel="next" href="${next}">Next page</a>` : ''}</nav>`,
      a.status === 200 ? 200 : a.status,
    )
  })
  router.get('/audit/report', async (ctx) => {
    const days = /^\d{1,4}$/.test(String(ctx.query.days ?? ''))
      ? Math.min(3650, Math.max(1, Number(ctx.query.days)))
      : 30
    const a = await kit.api<Report>(ctx, 'GET', `/admin/v1/audit/report?days=${days}`)
    if (a.status !== 200)
      return kit.render(
        ctx,
        'Compliance report',
        '/admin/audit',
        problem('Compliance report', messageOf(a), '/admin/audit'),
        a.status,
      )
    const r = a.body
    kit.render(
      ctx,
      'Compliance report',
      '/admin/audit',
      html`<h1>Compliance report</h1>
<p>From ${when(r.period.from)} to ${when(r.period.to)}.</p>
<form method="get" action="/admin/audit/report">${field({ name: 'days', label: 'Days', value: String(days), type: 'number' })}<button type="submit">Show</button></form>
${reportSummary(r)}
<h2>Users</h2><p>${r.users.total} users, ${r.users.disabled} disabled, ${r.users.mfa.without_mfa.length} active without a second factor.</p>
<h2>Access reviews completed</h2>
${r.access_reviews.completed.length ? html`<ul>${r.access_reviews.completed.map((c) => html`<li>${c.name} (${when(c.completed_at)}): ${c.confirmed} confirmed, ${c.revoked} revoked</li>`)}</ul>` : html`<p>None in the period.</p>`}
<details><summary>The whole report (JSON)</summary><pre>${JSON.stringify(r, null, 2)}</pre></details>`,
    )
  })
}

import { html, type SafeHtml } from '../../../views/html.ts'
import type { ApiAnswer } from '../api.ts'
import type { ConsoleSession } from '../session.ts'
import { reportSummary, type Report } from '../sections/audit.ts'

const DAYS = 7
type Events = { events: { time: string; outcome: string }[]; next_cursor: string | null }

/** Sign-ins and failures per day over the last DAYS days, from the audit log's `login` events. */
function signInTable(a: ApiAnswer | undefined): SafeHtml {
  if (a?.status !== 200) return html``
  const b = a.body as Events
  const days = Array.from({ length: DAYS }, (_, i) =>
    new Date(Date.now() - (DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  )
  const count = (d: string, outcome: string) =>
    b.events.filter((e) => e.time.startsWith(d) && e.outcome === outcome).length
  return html`<section aria-labelledby="d-signins"><h2 id="d-signins">Sign-ins, last ${DAYS} days</h2>
<table><thead><tr><th scope="col">Day</th><th scope="col">Succeeded</th><th scope="col">Failed</th></tr></thead>
<tbody>${days.map((d) => html`<tr><td>${d}</td><td>${count(d, 'success')}</td><td>${count(d, 'failure')}</td></tr>`)}</tbody></table>
${b.next_cursor ? html`<p class="hint">Counts the latest 500 sign-ins only.</p>` : ''}</section>`
}

/**
 * The dashboard: for each section the operator may use, a first look and its links; for those
 * who may read the audit log, sign-ins and failures per day, detector alerts, API keys near
 * expiry, signing key age and whether the audit chain verifies (from the compliance report).
 */
export async function dashboardBody(s: ConsoleSession, get: (path: string) => Promise<ApiAnswer>): Promise<SafeHtml> {
  const from = new Date(Date.now() - (DAYS - 1) * 86_400_000).toISOString().slice(0, 10)
  const [disabled, clients, logins, report] = await Promise.all([
    s.can.users ? get('/admin/v1/users?status=disabled&limit=100') : undefined,
    s.can.clients ? get('/admin/v1/clients?limit=100') : undefined,
    s.can.audit ? get(`/admin/v1/audit/events?action=login&from=${from}T00:00:00Z&limit=500`) : undefined,
    // the report also says whether the audit chain verifies (it is 403 without report:read)
    s.can.audit ? get(`/admin/v1/audit/report?days=${DAYS}`) : undefined,
  ])
  const count = (a: ApiAnswer | undefined) => {
    const b = a?.status === 200 ? (a.body as { items: unknown[]; nextCursor?: string }) : undefined
    return b ? `${b.items.length}${b.nextCursor ? '+' : ''}` : '—'
  }
  return html`<h1>Dashboard</h1>
<p>Signed in as ${s.email}.</p>
<div class="cards">
${s.can.users ? html`<section aria-labelledby="d-users"><h2 id="d-users">Users</h2><p>Disabled users: <strong>${count(disabled)}</strong></p><p><a href="/admin/users">Find a user</a> · <a href="/admin/users/new">New user</a></p></section>` : ''}
${!s.can.users && s.can.userCare ? html`<section aria-labelledby="d-care"><h2 id="d-care">Account help</h2><p><a href="/admin/users">Unlock, reset MFA or password</a></p></section>` : ''}
${s.can.clients ? html`<section aria-labelledby="d-clients"><h2 id="d-clients">Clients</h2><p>Registered: <strong>${count(clients)}</strong></p><p><a href="/admin/clients">All clients</a> · <a href="/admin/clients/new">New client</a></p></section>` : ''}
${report?.status === 200 ? html`<section aria-labelledby="d-health"><h2 id="d-health">Security, last ${DAYS} days</h2>${reportSummary(report.body as Report)}<p><a href="/admin/audit/report">Compliance report</a></p></section>` : ''}
${signInTable(logins)}
${s.can.roles ? html`<section aria-labelledby="d-roles"><h2 id="d-roles">Admin roles</h2><p><a href="/admin/roles">Grant or revoke</a></p></section>` : ''}
</div>`
}

import { html, type SafeHtml } from '../../../views/html.ts'
import type { ApiAnswer } from '../api.ts'
import type { ConsoleSession } from '../session.ts'

/**
 * The dashboard shows what the admin API offers today: for each section the operator may use,
 * a first look and its links. Panels for sign-in counts, alerts, keys near expiry and the audit
 * chain join here as their admin API routes arrive (docs/administration.md).
 */
export async function dashboardBody(s: ConsoleSession, get: (path: string) => Promise<ApiAnswer>): Promise<SafeHtml> {
  const [disabled, clients] = await Promise.all([
    s.can.users ? get('/admin/v1/users?status=disabled&limit=100') : undefined,
    s.can.clients ? get('/admin/v1/clients?limit=100') : undefined,
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
${s.can.roles ? html`<section aria-labelledby="d-roles"><h2 id="d-roles">Admin roles</h2><p><a href="/admin/roles">Grant or revoke</a></p></section>` : ''}
</div>`
}

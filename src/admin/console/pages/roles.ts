import { html, type SafeHtml } from '../../../views/html.ts'
import { ADMIN_ROLES } from '../../authority.ts'
import { field } from './layout.ts'

const ABOUT: Record<string, string> = {
  admin: 'everything',
  'user-manager': 'users: read, write, delete, unlock, reset MFA and password, sessions',
  'client-manager': 'clients and resources',
  'policy-editor': 'policy stores',
  auditor: 'read everything, the audit log and the compliance report',
  helpdesk: 'unlock, reset MFA, reset password — nothing else',
}

export function rolesBody(csrf: string, v: Record<string, string>, error?: string): SafeHtml {
  return html`<h1>Admin roles</h1>
<p>Admin roles are grants in the built-in <code>system</code> policy store; a user's admin roles are on their page.</p>
<table><thead><tr><th scope="col">Role</th><th scope="col">May</th></tr></thead>
<tbody>${ADMIN_ROLES.map((r) => html`<tr><td><code>${r}</code></td><td>${ABOUT[r] ?? ''}</td></tr>`)}</tbody></table>
<h2>Grant or revoke</h2>
<form method="post" action="/admin/roles" novalidate>
<input type="hidden" name="csrf" value="${csrf}">
${field({ name: 'email', label: 'User email', type: 'email', value: v.email, error, required: true, autocomplete: 'off' })}
<label for="f-role">Role</label>
<select id="f-role" name="role">${ADMIN_ROLES.map((r) => html`<option${v.role === r ? html` selected` : ''}>${r}</option>`)}</select>
${field({ name: 'reason', label: 'Reason (optional, kept with the policy version)', value: v.reason })}
<button type="submit" name="op" value="grant">Grant</button>
<button type="submit" name="op" value="revoke" class="secondary">Revoke</button>
</form>`
}

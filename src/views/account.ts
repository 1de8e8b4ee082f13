import { html, type SafeHtml } from './html.ts'
import { fieldError, page } from './layout.ts'
import { describedBy, passkeyButton, recoveryCodesBlock, totpEnrolment } from './strong-login.ts'
import type { FactorView } from '../identity/mfa.ts'

export interface AccountView {
  csrf: string
  user: { email: string; name: string | null; emailVerified?: boolean }
  factors: FactorView[]
  recoveryLeft: number
  sessions: { id: string; current: boolean; userAgent: string | null; ip: string | null; createdAt: Date; lastSeenAt: Date; amr: string[] }[]
  events: { time: Date; action: string; outcome: string; ip: string | null; details: Record<string, unknown> }[]
  notice?: string
  errors?: { profile?: string; password?: string[]; factor?: string; email?: string }
  minLength: number
}

const when = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC'

/** A short, human name for a browser from its User-Agent (falls back to the raw string). */
export function deviceName(ua: string | null) {
  if (!ua) return 'Unknown device'
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : undefined
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : undefined
  return browser ? `${browser}${os ? ` on ${os}` : ''}` : ua.slice(0, 60)
}

const EVENT_NAMES: Record<string, string> = {
  login: 'Sign-in', 'mfa.verify': 'Second-factor check', 'mfa.challenge': 'Second factor asked', 'mfa.enrolled': 'Second factor added',
  'mfa.removed': 'Second factor removed', 'mfa.renamed': 'Second factor renamed', 'mfa.recovery_codes': 'Recovery codes regenerated', 'password.changed': 'Password changed',
  'session.revoked': 'Session signed out', 'user.locked': 'Account locked', 'user.unlocked': 'Account unlocked', 'profile.updated': 'Profile updated',
  'user.password_reset': 'Password reset by mailed link', 'user.email_verified': 'Email address verified',
  'apikey.created': 'API key created', 'apikey.rotated': 'API key rotated', 'apikey.revoked': 'API key revoked',
}

function factorRows(p: AccountView, type: 'totp' | 'webauthn'): SafeHtml {
  const list = p.factors.filter((f) => f.type === type)
  if (!list.length) return html`<p class="muted">None yet.</p>`
  return html`<table><thead><tr><th scope="col">Name</th><th scope="col">Added</th><th scope="col">Last used</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>
${list.map((f) => html`<tr><td>${f.name}</td><td>${when(f.createdAt)}</td><td>${f.lastUsedAt ? when(f.lastUsedAt) : 'never'}</td>
<td><details class="rename"><summary>Rename</summary><form method="post" action="/account/factors/${f.id}/rename"><input type="hidden" name="csrf" value="${p.csrf}">
<label for="rename-${f.id}">New name for ${f.name}</label><input id="rename-${f.id}" name="name" type="text" maxlength="64" value="${f.name}" required>
<button type="submit" class="secondary small">Save name</button></form></details>
<form method="post" action="/account/factors/${f.id}/delete"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="Remove ${f.name}">Remove</button></form></td></tr>`)}
</tbody></table>`
}

export function accountPage(p: AccountView) {
  const pwErr = p.errors?.password?.length ? p.errors.password.join(' ') : undefined
  return page('Your account', html`
<nav class="top"><h1>Your account</h1>
<a href="/account/keys">API keys</a>
<form method="post" action="/account/logout"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary small">Sign out</button></form></nav>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}

<section aria-labelledby="profile-h"><h2 id="profile-h">Profile</h2>
<form method="post" action="/account/profile" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="email">Email</label>
  <input id="email" type="email" value="${p.user.email}" readonly aria-describedby="email-hint">
  <p class="hint" id="email-hint">${p.user.emailVerified === undefined ? 'Ask an administrator to change your email.' : 'To use another address, see "Change email" below.'}</p>
  <label for="name">Name</label>
  <input id="name" name="name" type="text" autocomplete="name" maxlength="200" value="${p.user.name ?? ''}" ${describedBy('profile-error', Boolean(p.errors?.profile))}>
  ${fieldError('profile-error', p.errors?.profile)}
  <button type="submit">Save profile</button>
</form>
${p.user.emailVerified === undefined ? '' : p.user.emailVerified
    ? html`<p class="muted" id="email-status">Your email address is verified.</p>`
    : html`<form method="post" action="/account/email/verify"><input type="hidden" name="csrf" value="${p.csrf}">
<p id="email-status">Your email address is not verified yet.</p>
<button type="submit" class="secondary">Send a verification link</button></form>`}
${p.user.emailVerified === undefined ? '' : html`<details${p.errors?.email ? ' open' : ''} id="change-email"><summary>Change email</summary>
<form method="post" action="/account/email" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="new_email">New sign-in address</label>
  <input id="new_email" name="new_email" type="email" autocomplete="email" maxlength="320" required ${describedBy('email-error', Boolean(p.errors?.email))}>
  <label for="email_current_password">Your password</label>
  <input id="email_current_password" name="current_password" type="password" autocomplete="current-password" required>
  ${fieldError('email-error', p.errors?.email)}
  <p class="hint">We send a link to the new address; your email changes when you follow it, and the old address is told.</p>
  <button type="submit" class="secondary">Send a confirmation link</button>
</form></details>`}
</section>

<section aria-labelledby="password-h"><h2 id="password-h">Password</h2>
<form method="post" action="/account/password" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="text" name="username" autocomplete="username" value="${p.user.email}" hidden>
  <label for="current_password">Current password</label>
  <input id="current_password" name="current_password" type="password" autocomplete="current-password" required ${describedBy('password-error', Boolean(pwErr))}>
  <label for="new_password">New password</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required maxlength="128" aria-describedby="new-password-hint${pwErr ? ' password-error' : ''}" aria-invalid="${pwErr ? 'true' : 'false'}">
  <p class="hint" id="new-password-hint">At least ${p.minLength} characters. A few unrelated words make a strong, memorable password.</p>
  <label for="confirm_password">Repeat the new password</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required ${describedBy('password-error', Boolean(pwErr))}>
  ${fieldError('password-error', pwErr)}
  <button type="submit">Change password</button>
</form></section>

<section aria-labelledby="mfa-h"><h2 id="mfa-h">Two-step verification</h2>
${p.errors?.factor ? html`<p class="error" role="alert">${p.errors.factor}</p>` : ''}
<h3>Authenticator apps</h3>
${factorRows(p, 'totp')}
<form method="get" action="/account/totp"><button type="submit" class="secondary">Add an authenticator app</button></form>
<h3>Passkeys</h3>
${factorRows(p, 'webauthn')}
<label for="passkey_name">Name for a new passkey</label>
<input id="passkey_name" type="text" maxlength="64" value="Passkey">
${passkeyButton({ mode: 'register', id: 'passkey-add', options: '/account/passkeys/options', verify: '/account/passkeys', csrf: p.csrf, label: 'Add a passkey', nameInput: 'passkey_name', secondary: true })}
<h3>Recovery codes</h3>
${p.factors.length
    ? html`<p>${p.recoveryLeft} of 10 recovery codes left.</p>
<form method="post" action="/account/recovery-codes"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary">Generate new recovery codes</button></form>
<p class="hint">New codes replace all the old ones.</p>`
    : html`<p class="muted">Add a second factor first.</p>`}
</section>

<section aria-labelledby="sessions-h"><h2 id="sessions-h">Where you are signed in</h2>
<table><thead><tr><th scope="col">Device</th><th scope="col">IP address</th><th scope="col">Last seen</th><th scope="col"><span class="muted">Action</span></th></tr></thead><tbody>
${p.sessions.map((s) => html`<tr><td>${deviceName(s.userAgent)}${s.current ? html` <strong>(this browser)</strong>` : ''}<br><span class="hint">signed in ${when(s.createdAt)} · ${s.amr.join(', ')}</span></td><td>${s.ip ?? ''}</td><td>${when(s.lastSeenAt)}</td>
<td>${s.current ? '' : html`<form method="post" action="/account/sessions/${s.id}/revoke"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary" aria-label="Sign out ${deviceName(s.userAgent)}">Sign out</button></form>`}</td></tr>`)}
</tbody></table>
<form method="post" action="/account/sessions/revoke-all"><input type="hidden" name="csrf" value="${p.csrf}"><button type="submit" class="secondary">Sign out everywhere</button></form>
</section>

<section aria-labelledby="events-h"><h2 id="events-h">Recent security events</h2>
${p.events.length ? html`<table><thead><tr><th scope="col">When</th><th scope="col">What</th><th scope="col">Result</th><th scope="col">IP address</th></tr></thead><tbody>
${p.events.map((e) => html`<tr><td>${when(e.time)}</td><td>${EVENT_NAMES[e.action] ?? e.action}${e.details.method ? html` <span class="hint">(${String(e.details.method)})</span>` : ''}</td><td>${e.outcome}</td><td>${e.ip ?? ''}</td></tr>`)}
</tbody></table>` : html`<p class="muted">No events yet.</p>`}
</section>`, { wide: true, scripts: ['/assets/webauthn.js'] })
}

export function accountTotpPage(p: { csrf: string; qr: string; secret: string; error?: string }) {
  return page('Add an authenticator app', html`
<h1>Add an authenticator app</h1>
${totpEnrolment({ action: '/account/totp', csrf: p.csrf, qr: p.qr, secret: p.secret, error: p.error, withName: true, submit: 'Add authenticator' })}
<p><a href="/account">Back to your account</a></p>`)
}

export function accountCodesPage(p: { codes: string[] }) {
  return page('Your recovery codes', html`
<h1>Your recovery codes</h1>
${recoveryCodesBlock(p.codes)}
<p><a href="/account">Back to your account</a></p>`)
}

export function signedOutPage(everywhere: boolean) {
  return page('Signed out', html`<h1>You are signed out</h1><p>${everywhere ? 'Every session of your account has ended.' : 'This browser is signed out.'}</p><p><a href="/account">Sign in again</a></p>`)
}

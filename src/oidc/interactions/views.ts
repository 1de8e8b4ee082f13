import { html, raw } from '../../views/html.ts'
import { fieldError, page } from '../../views/layout.ts'
import { passkeyButton } from '../../views/strong-login.ts'
import { providerButtons } from '../../federation/pages.ts'

/**
 * "Signed in as …, Sign in as someone else": a POST (it changes what the request will do), so
 * it carries the interaction's CSRF token. See the `/switch` route.
 */
export function switchAccount(p: { uid: string; csrf: string; email: string; pending?: boolean }) {
  return html`
<form method="post" action="/interaction/${p.uid}/switch" class="switch">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <p class="muted">${p.pending ? 'Signing in' : 'Signed in'} as <strong>${p.email}</strong>.</p>
  <button type="submit" class="secondary small">Sign in as someone else</button>
</form>`
}

export function loginPage(p: { uid: string; csrf: string; clientName: string; email?: string; error?: string; notice?: string; signedInAs?: string; providers?: { alias: string; displayName: string }[]; registration?: boolean }) {
  const invalid = p.error ? 'true' : 'false'
  return page('Sign in', html`
<h1>Sign in</h1>
<p class="muted">to continue to <strong>${p.clientName}</strong></p>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ''}
${p.signedInAs ? html`<p class="muted" id="signed-in-as">You are signed in as <strong>${p.signedInAs}</strong>. Signing in with another account here signs ${p.signedInAs} out of this browser.</p>` : ''}
<form method="post" action="/interaction/${p.uid}/login" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus value="${p.email ?? ''}" aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="login-error"' : '')}>
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="login-error"' : '')}>
  ${fieldError('login-error', p.error)}
  <button type="submit">Sign in</button>
</form>
<p class="forgot"><a href="/password/forgot?interaction=${p.uid}" id="forgot-password">Forgot password?</a></p>
<!-- federation (issue 14 §6): upstream identity provider buttons -->
${providerButtons({ uid: p.uid, csrf: p.csrf, providers: p.providers ?? [] })}
<!-- end federation -->
${p.registration ? html`<p class="signup"><a href="/register?interaction=${p.uid}" id="create-account">Create account</a></p>` : ''}
${passkeyButton({ mode: 'authenticate', id: 'passkey-signin', options: `/interaction/${p.uid}/passkey/options`, verify: `/interaction/${p.uid}/passkey`, csrf: p.csrf, label: 'Sign in with a passkey', secondary: true })}
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">Cancel</button>
</form>`, { scripts: ['/assets/webauthn.js'] })
}

export function changePasswordPage(p: { uid: string; csrf: string; errors?: string[]; minLength: number }) {
  const invalid = p.errors?.length ? 'true' : 'false'
  return page('Choose a new password', html`
<h1>Choose a new password</h1>
<p class="muted">Your password must be changed before you continue. Use at least ${p.minLength} characters; a few unrelated words make a strong password.</p>
<form method="post" action="/interaction/${p.uid}/password" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <label for="new_password">New password</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required autofocus minlength="${p.minLength}" maxlength="128" aria-invalid="${invalid}" ${raw(p.errors?.length ? 'aria-describedby="password-error"' : '')}>
  <label for="confirm_password">Repeat the new password</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required aria-invalid="${invalid}">
  ${fieldError('password-error', p.errors?.join(' '))}
  <button type="submit">Save and continue</button>
</form>`)
}

export function consentPage(p: { uid: string; csrf: string; clientName: string; scopes: string[]; claims: string[]; resources: [string, string[]][]; signedInAs?: string }) {
  return page('Authorize', html`
<h1>Authorize ${p.clientName}</h1>
<p>${p.clientName} asks for:</p>
<ul class="scopes">
  ${p.scopes.map((s) => html`<li><code>${s}</code></li>`)}
  ${p.claims.map((c) => html`<li>claim <code>${c}</code></li>`)}
  ${p.resources.map(([r, s]) => html`<li><code>${s.join(' ') || '(no scopes)'}</code> on <code>${r}</code></li>`)}
</ul>
<form method="post" action="/interaction/${p.uid}/confirm">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" autofocus>Allow</button>
</form>
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">Deny</button>
</form>
${p.signedInAs ? switchAccount({ uid: p.uid, csrf: p.csrf, email: p.signedInAs }) : ''}`)
}

// The plain error page is part of the page toolkit (the http/ toolkit renders it too).
export { errorPage } from '../../views/layout.ts'

export function logoutPage(p: { form: string; host: string }) {
  // oidc-provider hands us its own form (with its xsrf token) to embed.
  return page('Sign out', html`
<h1>Sign out of ${p.host}?</h1>
${raw(p.form)}
<button type="submit" form="op.logoutForm" value="yes" name="logout" autofocus>Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`)
}

export function loggedOutPage(clientName?: string) {
  return page('Signed out', html`<h1>You are signed out</h1>${clientName ? html`<p>You have left ${clientName}.</p>` : ''}`)
}

/** Device flow (RFC 8628 §3.3): the page where the user types the code shown on the device. */
export function deviceInputPage(p: { form: string; error?: string }) {
  return page('Connect a device', html`
<h1>Connect a device</h1>
${p.error ? html`<p class="error" role="alert" id="device-error">${p.error}</p>` : html`<p>Enter the code shown on your device.</p>`}
${raw(p.form)}
<button type="submit" form="op.deviceInputForm">Continue</button>`)
}

/** Device flow: confirm that the code on screen is the one on the device before approving. */
export function deviceConfirmPage(p: { form: string; clientName: string; userCode: string }) {
  return page('Confirm the device', html`
<h1>Connect ${p.clientName}?</h1>
<p>Check that your device shows this code:</p>
<p class="code"><code>${p.userCode}</code></p>
<p>If you did not start this, or the codes differ, cancel.</p>
${raw(p.form)}
<button type="submit" form="op.deviceConfirmForm" autofocus>Continue</button>
<button type="submit" form="op.deviceConfirmForm" value="yes" name="abort" class="secondary">Cancel</button>`)
}

export function deviceSuccessPage(clientName?: string) {
  return page('Device connected', html`<h1>Device connected</h1><p>${clientName ? html`You signed in to ${clientName}. ` : ''}You can close this page and return to your device.</p>`)
}

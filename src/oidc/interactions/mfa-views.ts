import { html } from '../../views/html.ts'
import { fieldError, page } from '../../views/layout.ts'
import { describedBy, passkeyButton, recoveryCodesBlock, totpEnrolment } from '../../views/strong-login.ts'
import { switchAccount } from './views.ts'

/** The second step of a sign-in: a code from the authenticator app, a passkey, or a recovery code. */
export function mfaPage(p: { uid: string; csrf: string; hasTotp: boolean; hasPasskey: boolean; notice?: string; error?: string; recoveryError?: string; email?: string }) {
  return page('Verify it is you', html`
<h1>Verify it is you</h1>
${p.notice ? html`<p class="muted">${p.notice}</p>` : ''}
${p.hasTotp ? html`
<form method="post" action="/interaction/${p.uid}/mfa" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="totp">
  <label for="code">Code from your authenticator app</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" maxlength="8" required autofocus ${describedBy('code-error', Boolean(p.error))}>
  ${fieldError('code-error', p.error)}
  <button type="submit">Verify</button>
</form>` : p.error ? html`<p class="error" role="alert">${p.error}</p>` : ''}
${p.hasPasskey ? passkeyButton({ mode: 'authenticate', id: 'passkey-mfa', options: `/interaction/${p.uid}/mfa/passkey/options`, verify: `/interaction/${p.uid}/mfa/passkey`, csrf: p.csrf, label: 'Use a passkey', secondary: p.hasTotp }) : ''}
<details ${p.recoveryError ? 'open' : ''}>
  <summary>Use a recovery code</summary>
  <form method="post" action="/interaction/${p.uid}/mfa" novalidate>
    <input type="hidden" name="csrf" value="${p.csrf}">
    <input type="hidden" name="method" value="recovery">
    <label for="recovery_code">Recovery code</label>
    <input id="recovery_code" name="code" type="text" autocomplete="off" spellcheck="false" maxlength="20" required ${describedBy('recovery-error', Boolean(p.recoveryError))}>
    ${fieldError('recovery-error', p.recoveryError)}
    <button type="submit" class="secondary">Use recovery code</button>
  </form>
</details>
<form method="post" action="/interaction/${p.uid}/abort">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary">Cancel</button>
</form>
${p.email ? switchAccount({ uid: p.uid, csrf: p.csrf, email: p.email, pending: true }) : ''}`, { scripts: ['/assets/webauthn.js'] })
}

/** Enrolment forced at sign-in (MFA required by an administrator or by the application). */
export function enrolPage(p: { uid: string; csrf: string; qr: string; secret: string; error?: string; reason: string }) {
  return page('Set up two-step verification', html`
<h1>Set up two-step verification</h1>
<p class="muted">${p.reason}</p>
${totpEnrolment({ action: `/interaction/${p.uid}/enrol`, csrf: p.csrf, qr: p.qr, secret: p.secret, error: p.error, submit: 'Turn on and continue' })}
<h2>Or use a passkey</h2>
<p class="hint">A passkey on this device or a security key works instead of an app.</p>
<label for="passkey_name">Name for the passkey</label>
<input id="passkey_name" type="text" maxlength="64" value="Passkey">
${passkeyButton({ mode: 'register', id: 'passkey-enrol', options: `/interaction/${p.uid}/enrol/passkey/options`, verify: `/interaction/${p.uid}/enrol/passkey`, csrf: p.csrf, label: 'Set up a passkey', nameInput: 'passkey_name', secondary: true })}`, { scripts: ['/assets/webauthn.js'] })
}

export function codesPage(p: { uid: string; csrf: string; codes?: string[] }) {
  return page('Your recovery codes', html`
<h1>Two-step verification is on</h1>
${p.codes ? recoveryCodesBlock(p.codes) : html`<p>Your recovery codes were shown on the previous page.</p>`}
<form method="post" action="/interaction/${p.uid}/continue">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" autofocus>I saved them, continue</button>
</form>`)
}

export function lockedMessage(retryAfter: number) {
  const minutes = Math.ceil(retryAfter / 60)
  return `Too many failed attempts. Sign-in is locked for ${minutes} minute${minutes === 1 ? '' : 's'}; try again later.`
}

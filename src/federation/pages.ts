import { html, raw, type SafeHtml } from '../views/html.ts'
import { fieldError, page } from '../views/layout.ts'

/**
 * The federation pages. The buttons are a block the sign-in page embeds; the others are pages
 * of their own inside the sign-in interaction.
 */

/** "Sign in with X" buttons: POST forms (they start a sign-in), each with the interaction's CSRF token. */
export function providerButtons(p: { uid: string; csrf: string; providers: { alias: string; displayName: string }[] }): SafeHtml {
  if (!p.providers.length) return html``
  return html`
<div class="federation" id="federation">
  <p class="muted">or</p>
  ${p.providers.map((x) => html`<form method="post" action="/interaction/${p.uid}/federation/${x.alias}">
    <input type="hidden" name="csrf" value="${p.csrf}">
    <button type="submit" class="secondary" data-provider="${x.alias}">Sign in with ${x.displayName}</button>
  </form>`)}
</div>`
}

/**
 * The upstream's verified email belongs to an existing account: the person proves that account
 * (its password, or its second factor) before the upstream identity is linked to it.
 */
export function linkPage(p: { uid: string; csrf: string; providerName: string; email: string; hasTotp: boolean; error?: string }) {
  const invalid = p.error ? 'true' : 'false'
  return page('Link your account', html`
<h1>Link your account</h1>
<p>An account for <strong>${p.email}</strong> already exists. To sign in with ${p.providerName} from now on, confirm that the account is yours.</p>
<form method="post" action="/interaction/${p.uid}/federation-link" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="password">
  <label for="link-password">Password of ${p.email}</label>
  <input id="link-password" name="password" type="password" autocomplete="current-password" required autofocus aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="link-error"' : '')}>
  <button type="submit">Link and continue</button>
</form>
${p.hasTotp ? html`<form method="post" action="/interaction/${p.uid}/federation-link" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="totp">
  <label for="link-code">Or a code from your authenticator app</label>
  <input id="link-code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10">
  <button type="submit" class="secondary">Link with a code</button>
</form>` : ''}
${fieldError('link-error', p.error)}
<p><a href="/interaction/${p.uid}">Back to sign in</a></p>`)
}

/** A refused upstream sign-in: what happened in plain words, and the way back. */
export function refusedPage(p: { uid?: string; providerName: string; message: string }) {
  return page('Sign-in not completed', html`
<h1>Sign-in with ${p.providerName} not completed</h1>
<p role="alert" id="federation-error">${p.message}</p>
${p.uid ? html`<p><a href="/interaction/${p.uid}">Back to sign in</a></p>` : html`<p>Return to the application and sign in again.</p>`}`)
}

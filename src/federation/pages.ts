import { html, raw, type SafeHtml } from '../views/html.ts'
import { fieldError, page } from '../views/layout.ts'
import { t, tHtml } from '../views/i18n.ts'
import type { RefusalReason } from './errors.ts'

/**
 * The federation pages. The buttons are a block the sign-in page embeds; the others are pages
 * of their own inside the sign-in interaction. Words from the catalogues (`federation.*`).
 */

/** "Sign in with X" buttons: POST forms (they start a sign-in), each with the interaction's CSRF token. */
export function providerButtons(p: {
  uid: string
  csrf: string
  providers: { alias: string; displayName: string }[]
}): SafeHtml {
  if (!p.providers.length) return html``
  return html`
<div class="federation" id="federation">
  <p class="muted">${t('federation.or')}</p>
  ${p.providers.map(
    (x) => html`<form method="post" action="/interaction/${p.uid}/federation/${x.alias}">
    <input type="hidden" name="csrf" value="${p.csrf}">
    <button type="submit" class="secondary" data-provider="${x.alias}">${t('federation.signInWith', { provider: x.displayName })}</button>
  </form>`,
  )}
</div>`
}

/**
 * The upstream's verified email belongs to an existing account: the person proves that account
 * (its password, or its second factor) before the upstream identity is linked to it.
 */
export function linkPage(p: {
  uid: string
  csrf: string
  providerName: string
  email: string
  hasTotp: boolean
  error?: string
}) {
  const invalid = p.error ? 'true' : 'false'
  return page(
    t('federation.linkTitle'),
    html`
<h1>${t('federation.linkTitle')}</h1>
<p>${tHtml('federation.linkExists', { email: p.email, provider: p.providerName })}</p>
<form method="post" action="/interaction/${p.uid}/federation-link" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="password">
  <label for="link-password">${t('federation.linkPassword', { email: p.email })}</label>
  <input id="link-password" name="password" type="password" autocomplete="current-password" required autofocus aria-invalid="${invalid}" ${raw(p.error ? 'aria-describedby="link-error"' : '')}>
  <button type="submit">${t('federation.linkSubmit')}</button>
</form>
${
  p.hasTotp
    ? html`<form method="post" action="/interaction/${p.uid}/federation-link" novalidate>
  <input type="hidden" name="csrf" value="${p.csrf}">
  <input type="hidden" name="method" value="totp">
  <label for="link-code">${t('federation.linkCode')}</label>
  <input id="link-code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="10">
  <button type="submit" class="secondary">${t('federation.linkCodeSubmit')}</button>
</form>`
    : ''
}
${fieldError('link-error', p.error)}
<p><a href="/interaction/${p.uid}">${t('federation.backToSignIn')}</a></p>`,
  )
}

/**
 * A refused upstream sign-in: what happened in plain words, and the way back. `providerName`
 * is absent when the answer named no provider we know.
 */
export function refusedPage(p: { uid?: string; providerName?: string; reason: RefusalReason }) {
  const provider = p.providerName ?? t('federation.theProvider')
  return page(
    t('federation.refusedTitle'),
    html`
<h1>${t('federation.refusedHeading', { provider })}</h1>
<p role="alert" id="federation-error">${t(`federation.refused.${p.reason}`)}</p>
${p.uid ? html`<p><a href="/interaction/${p.uid}">${t('federation.backToSignIn')}</a></p>` : html`<p>${t('federation.returnToApp')}</p>`}`,
  )
}

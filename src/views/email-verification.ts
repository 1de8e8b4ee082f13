import { html } from './html.ts'
import { page } from './layout.ts'

export function verifyEmailPage(p: { token: string; email: string }) {
  return page('Verify your email', html`
<h1>Verify your email address</h1>
<p>Confirm that <strong>${p.email}</strong> is your address.</p>
<form method="post" action="/email/verify">
  <input type="hidden" name="token" value="${p.token}">
  <button type="submit" autofocus>Verify ${p.email}</button>
</form>`)
}

export function verifyInvalidPage() {
  return page('Link not valid', html`
<h1>This link does not work any more</h1>
<p role="alert" id="verify-invalid">The verification link was already used, has expired, or is for an address the account no longer has. Ask for a new one on your account page.</p>
<p><a href="/account">Your account</a></p>`)
}

export function verifiedPage(email: string) {
  return page('Email verified', html`
<h1>Email verified</h1>
<p role="status" id="verify-done"><strong>${email}</strong> is verified.</p>
<p><a href="/account">Your account</a></p>`)
}

export function confirmChangePage(p: { token: string; from: string; to: string }) {
  return page('Confirm your new email', html`
<h1>Confirm your new email address</h1>
<p>Change the email address of your account from <strong>${p.from}</strong> to <strong>${p.to}</strong>? You sign in with the new address from then on.</p>
<form method="post" action="/email/change">
  <input type="hidden" name="token" value="${p.token}">
  <button type="submit" autofocus>Use ${p.to}</button>
</form>`)
}

export function changedPage(email: string) {
  return page('Email changed', html`
<h1>Email changed</h1>
<p role="status" id="change-done">Your account's email address is now <strong>${email}</strong>. Sign in with it from now on.</p>
<p><a href="/account">Your account</a></p>`)
}

export function changeTakenPage() {
  return page('Address not available', html`
<h1>This address cannot be used</h1>
<p role="alert" id="change-taken">The new address now belongs to another account. Your email address was not changed.</p>
<p><a href="/account">Your account</a></p>`)
}

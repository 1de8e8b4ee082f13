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

import { html, raw } from './html.ts'
import { fieldError, page } from './layout.ts'

/** Back to the sign-in this request started from, when there is one (an interaction uid). */
const back = (interaction?: string) =>
  interaction ? html`<p><a href="/interaction/${interaction}?signin=1" id="back-to-signin">Back to sign in</a></p>` : html``

export interface RegisterView {
  product: string
  interaction?: string
  email?: string
  name?: string
  minLength: number
  /** hidden fields of the anti-automation challenge (identity/signup-challenge.ts) */
  challenge: Record<string, string>
  scripts: string[]
  errors?: { email?: string; password?: string; form?: string }
  /** addresses at these domains only (shown as a hint) */
  domains: string[]
}

export function registerPage(p: RegisterView) {
  const e = p.errors ?? {}
  const pow = 'pow_challenge' in p.challenge
  return page('Create account', html`
<h1>Create your ${p.product} account</h1>
${p.domains.length ? html`<p class="muted">Accounts can be created for addresses at ${p.domains.join(', ')}.</p>` : ''}
${fieldError('register-error', e.form)}
<form method="post" action="/register" novalidate ${raw(pow ? 'data-pow' : '')}>
  ${p.interaction ? html`<input type="hidden" name="interaction" value="${p.interaction}">` : ''}
  ${Object.entries(p.challenge).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
  ${pow ? html`<input type="hidden" name="pow_nonce" value="">` : ''}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required autofocus maxlength="320" value="${p.email ?? ''}" aria-invalid="${e.email ? 'true' : 'false'}" ${raw(e.email ? 'aria-describedby="email-error"' : '')}>
  ${fieldError('email-error', e.email)}
  <label for="name">Name <span class="muted">(optional)</span></label>
  <input id="name" name="name" type="text" autocomplete="name" maxlength="200" value="${p.name ?? ''}">
  <label for="new_password">Password</label>
  <input id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="${p.minLength}" maxlength="128" aria-invalid="${e.password ? 'true' : 'false'}" ${raw(e.password ? 'aria-describedby="password-error"' : '')}>
  <p class="muted">Use at least ${p.minLength} characters; a few unrelated words make a strong password.</p>
  <label for="confirm_password">Repeat the password</label>
  <input id="confirm_password" name="confirm_password" type="password" autocomplete="new-password" required>
  ${fieldError('password-error', e.password)}
  <p class="muted" id="pow-status" role="status"></p>
  <button type="submit" id="register-submit">Create account</button>
</form>
${back(p.interaction)}`, { scripts: p.scripts })
}

export function registeredPage(p: { email: string; interaction?: string }) {
  return page('Check your mail', html`
<h1>Check your mail</h1>
<p role="status" id="register-done">We sent a message to <strong>${p.email}</strong>. Follow the link in it to verify your address; then you can sign in.</p>
<p class="muted">No mail after a few minutes? Check the spam folder. If you already have an account with this address, the message says so.</p>
${back(p.interaction)}`)
}

/** Shown instead of finishing the sign-in of an account whose address is not verified yet. */
export function verifyFirstPage(p: { uid: string; csrf: string; email: string; notice?: string }) {
  return page('Verify your email first', html`
<h1>Verify your email address first</h1>
<p role="alert" id="verify-first">Before you can sign in, follow the link we sent to <strong>${p.email}</strong>.</p>
${p.notice ? html`<p class="notice" role="status" id="verify-notice">${p.notice}</p>` : ''}
<form method="post" action="/interaction/${p.uid}/verify/continue">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit">I have verified my address: continue</button>
</form>
<form method="post" action="/interaction/${p.uid}/verify/resend">
  <input type="hidden" name="csrf" value="${p.csrf}">
  <button type="submit" class="secondary" id="resend-verification">Send the link again</button>
</form>`)
}

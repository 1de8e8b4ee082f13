import { html } from '../views/html.ts'
import { button, frame, minutes, type Brand, type Mail } from './templates.ts'

/**
 * Mails of the account lifecycle (issue 14 §4, §5, §8): sign-up, invitations and security
 * notices. A notice carries no secret and no link that acts: it names what happened, when and
 * from where, and points to the forgotten-password page ("this wasn't me").
 */

const text = (lines: string[], brand: Brand) => [...lines, '', `-- ${brand.product}`].join('\n')

/** A sign-up for an address that already has an account: its owner is told, nothing changes. */
export function accountExistsMail(brand: Brand, p: { to: string; signInUrl: string; resetUrl: string }): Mail {
  const subject = `Someone tried to sign up for ${brand.product} with your address`
  const line = `Someone, probably you, tried to create a new ${brand.product} account for ${p.to}. There already is an account with this address, so nothing was created.`
  const next = 'If it was you, sign in with your existing account, or choose a new password if you forgot it.'
  const notYou = 'If it was not you, ignore this mail: your account is unchanged.'
  return {
    to: p.to,
    subject,
    text: text([line, '', next, `Sign in: ${p.signInUrl}`, `Forgot your password: ${p.resetUrl}`, '', notYou], brand),
    html: frame(brand, subject, html`
<h1 style="font-size: 1.25rem;">You already have an account</h1>
<p>${line}</p>
<p>${next}</p>
<p><a href="${p.signInUrl}">Sign in</a> · <a href="${p.resetUrl}">Forgot your password?</a></p>
<p>${notYou}</p>`),
  }
}

/** An imported account without a password: a single-use link to choose the first one. */
export function invitationMail(brand: Brand, p: { to: string; link: string; ttlSeconds: number }): Mail {
  const subject = `You are invited to ${brand.product}`
  const valid = minutes(p.ttlSeconds)
  const line = `An account on ${brand.product} was created for ${p.to}. To start using it, choose your password.`
  return {
    to: p.to,
    subject,
    text: text([line, '', `Open this link within ${valid}. It works once:`, p.link, '', 'If you did not expect this, ignore this mail.'], brand),
    html: frame(brand, subject, html`
<h1 style="font-size: 1.25rem;">Welcome to ${brand.product}</h1>
<p>${line}</p>
<p>Open this link within ${valid}. It works once.</p>
${button(p.link, 'Choose your password')}
<p>If you did not expect this, ignore this mail.</p>`),
  }
}

export type NoticeKind = 'new_device' | 'password_changed' | 'mfa_added' | 'mfa_removed' | 'api_key_created' | 'account_locked'

const NOTICES: Record<NoticeKind, { subject: (product: string) => string; title: string; line: (product: string, detail?: string) => string }> = {
  new_device: {
    subject: (product) => `New sign-in to your ${product} account`,
    title: 'New sign-in',
    line: (product, detail) => `Your ${product} account was just signed in to from a browser or device it was not used from before${detail ? ` (${detail})` : ''}.`,
  },
  password_changed: {
    subject: (product) => `Your ${product} password was changed`,
    title: 'Your password was changed',
    line: (product) => `The password of your ${product} account was changed.`,
  },
  mfa_added: {
    subject: (product) => `A sign-in method was added to your ${product} account`,
    title: 'Two-step verification method added',
    line: (product, detail) => `A two-step verification method${detail ? ` (${detail})` : ''} was added to your ${product} account.`,
  },
  mfa_removed: {
    subject: (product) => `A sign-in method was removed from your ${product} account`,
    title: 'Two-step verification method removed',
    line: (product, detail) => `A two-step verification method${detail ? ` (${detail})` : ''} was removed from your ${product} account.`,
  },
  api_key_created: {
    subject: (product) => `A new API key was created for your ${product} account`,
    title: 'New API key',
    line: (product, detail) => `An API key${detail ? ` named "${detail}"` : ''} was created for your ${product} account. It acts with your permissions.`,
  },
  account_locked: {
    subject: (product) => `Your ${product} account was locked`,
    title: 'Your account was locked',
    line: (product, detail) => `Your ${product} account was locked after too many failed sign-in attempts${detail ? `; it unlocks by itself in ${detail}` : ''}.`,
  },
}

/**
 * A security notice (issue 14 §5). `when` and `from` (browser and network) say where it came
 * from; the reset page is the "this wasn't me" way out.
 */
export function securityNotice(brand: Brand, p: { to: string; kind: NoticeKind; detail?: string; when: Date; from?: string; resetUrl: string; accountUrl: string }): Mail {
  const n = NOTICES[p.kind]
  const subject = n.subject(brand.product)
  const line = n.line(brand.product, p.detail)
  const when = `When: ${p.when.toUTCString()}${p.from ? `. From: ${p.from}` : ''}.`
  const ok = 'If this was you, there is nothing to do.'
  const notMe = 'If this was not you, someone else may have your password: choose a new password now, then check the sign-in methods and sessions on your account page.'
  return {
    to: p.to,
    subject,
    text: text([line, when, '', ok, '', notMe, `Choose a new password: ${p.resetUrl}`, `Your account: ${p.accountUrl}`], brand),
    html: frame(brand, subject, html`
<h1 style="font-size: 1.25rem;">${n.title}</h1>
<p>${line}</p>
<p style="color: #555;">${when}</p>
<p>${ok}</p>
<p><strong>This wasn't me:</strong> ${notMe}</p>
<p><a href="${p.resetUrl}">Choose a new password</a> · <a href="${p.accountUrl}">Your account</a></p>`),
  }
}


import { html, type SafeHtml } from '../views/html.ts'

/** A mail ready to send: one recipient, a subject, and the same words as text and as HTML. */
export interface Mail {
  to: string
  subject: string
  text: string
  html: string
}

/**
 * Every mail names the deployment (PRODUCT_NAME) and carries at most one secret: the
 * single-use link it exists for. Values are escaped in the HTML part by the `html` tag; the
 * text part is plain text, where nothing is interpreted.
 */
export interface Brand {
  product: string
}

export function frame(brand: Brand, title: string, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1b1f; max-width: 36rem; margin: 0 auto; padding: 1.5rem;">
<p style="font-weight: 600; color: #555;">${brand.product}</p>
${body}
<p style="color: #777; font-size: 0.875rem;">This mail was sent by ${brand.product}. Replies are not read.</p>
</body>
</html>`.value
}

export const button = (href: string, label: string) =>
  html`<p><a href="${href}" style="display: inline-block; padding: 0.6rem 1rem; background: #2456d6; color: #fff; text-decoration: none; border-radius: 0.375rem;">${label}</a></p>
<p style="font-size: 0.875rem; color: #555;">Or copy this address into your browser:<br><span style="word-break: break-all;">${href}</span></p>`

export const minutes = (seconds: number) => {
  const m = Math.round(seconds / 60)
  if (m < 120) return `${m} minute${m === 1 ? '' : 's'}`
  const h = Math.round(m / 60)
  return h < 48 ? `${h} hours` : `${Math.round(h / 24)} days`
}

export function passwordResetMail(brand: Brand, p: { to: string; link: string; ttlSeconds: number }): Mail {
  const subject = `Reset your ${brand.product} password`
  const valid = minutes(p.ttlSeconds)
  return {
    to: p.to,
    subject,
    text: [
      `Someone, probably you, asked to reset the password of the ${brand.product} account ${p.to}.`,
      '',
      `To choose a new password, open this link within ${valid}. It works once:`,
      p.link,
      '',
      'If you did not ask for this, ignore this mail: your password stays as it is.',
      '',
      `-- ${brand.product}`,
    ].join('\n'),
    html: frame(brand, subject, html`
<h1 style="font-size: 1.25rem;">Reset your password</h1>
<p>Someone, probably you, asked to reset the password of the ${brand.product} account <strong>${p.to}</strong>.</p>
<p>To choose a new password, open this link within ${valid}. It works once.</p>
${button(p.link, 'Choose a new password')}
<p>If you did not ask for this, ignore this mail: your password stays as it is.</p>`),
  }
}

export function verifyEmailMail(brand: Brand, p: { to: string; link: string; ttlSeconds: number; change: boolean }): Mail {
  const subject = p.change ? `Confirm your new ${brand.product} email address` : `Verify your ${brand.product} email address`
  const valid = minutes(p.ttlSeconds)
  const why = p.change
    ? `Someone, probably you, asked to use ${p.to} as the email address of a ${brand.product} account. The change takes effect once you confirm it.`
    : `Confirm that ${p.to} is the email address of your ${brand.product} account.`
  return {
    to: p.to,
    subject,
    text: [why, '', `Open this link within ${valid}. It works once:`, p.link, '', 'If you did not ask for this, ignore this mail.', '', `-- ${brand.product}`].join('\n'),
    html: frame(brand, subject, html`
<h1 style="font-size: 1.25rem;">${p.change ? 'Confirm your new email address' : 'Verify your email address'}</h1>
<p>${why}</p>
<p>Open this link within ${valid}. It works once.</p>
${button(p.link, p.change ? 'Confirm the new address' : 'Verify this address')}
<p>If you did not ask for this, ignore this mail.</p>`),
  }
}

/** To the old address when the account's email is changed: no link, nothing secret. */
export function emailChangedNotice(brand: Brand, p: { to: string; newEmail: string }): Mail {
  const subject = `Your ${brand.product} email address was changed`
  const line = `The email address of your ${brand.product} account was changed from ${p.to} to ${p.newEmail}.`
  const help = 'If you did not do this, contact your administrator at once: someone else may be using your account.'
  return {
    to: p.to,
    subject,
    text: [line, '', help, '', `-- ${brand.product}`].join('\n'),
    html: frame(brand, subject, html`<h1 style="font-size: 1.25rem;">Your email address was changed</h1><p>${line}</p><p>${help}</p>`),
  }
}

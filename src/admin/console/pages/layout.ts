import { html, type SafeHtml } from '../../../views/html.ts'
import type { Capabilities } from '../session.ts'

/** A console section: a page in the navigation, shown only when the operator may use it. */
export interface NavItem {
  href: string
  label: string
  visible: (can: Capabilities) => boolean
}

export const NAV: NavItem[] = [
  { href: '/admin', label: 'Dashboard', visible: () => true },
  { href: '/admin/users', label: 'Users', visible: (can) => can.users || can.userCare },
  { href: '/admin/clients', label: 'Clients', visible: (can) => can.clients },
  { href: '/admin/roles', label: 'Admin roles', visible: (can) => can.roles },
  { href: '/admin/role-requests', label: 'Role requests', visible: () => true },
  { href: '/admin/reviews', label: 'Access reviews', visible: (can) => Boolean(can.reviews) },
  { href: '/admin/resources', label: 'Resources', visible: (can) => Boolean(can.resources) },
  { href: '/admin/signing-keys', label: 'Signing keys', visible: (can) => Boolean(can.keys) },
  { href: '/admin/api-keys', label: 'API keys', visible: (can) => Boolean(can.apiKeys) },
  { href: '/admin/policies', label: 'Policies', visible: (can) => Boolean(can.policies) },
  { href: '/admin/audit', label: 'Audit', visible: (can) => Boolean(can.audit) },
]

export interface Frame {
  title: string
  current: string
  email: string
  can: Capabilities
  csrf: string
  notice?: string
}

/**
 * The console frame: a skip link, a banner with the operator and a sign-out form, the section
 * navigation (aria-current on the open one) and the main landmark. Scripts are local files
 * (htmx from its npm package, console.js for copy buttons): no CDN, no inline script.
 */
export function consolePage(f: Frame, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>
<title>${f.title} · portcullis admin</title>
<link rel="stylesheet" href="/admin/assets/console.css">
<script src="/admin/assets/htmx.min.js" defer></script>
<script src="/admin/assets/console.js" defer></script>
</head>
<body class="console">
<a class="skip" href="#main">Skip to content</a>
<header class="bar">
<span class="brand">portcullis admin</span>
<nav aria-label="Sections"><ul>
${NAV.filter((n) => n.visible(f.can)).map((n) => html`<li><a href="${n.href}"${n.href === f.current ? html` aria-current="page"` : ''}>${n.label}</a></li>`)}
</ul></nav>
<form method="post" action="/admin/logout" class="signout"><input type="hidden" name="csrf" value="${f.csrf}"><span class="who">${f.email}</span> <button type="submit" class="link">Sign out</button></form>
</header>
<main id="main" tabindex="-1">
${f.notice ? html`<p class="notice" role="status">${f.notice}</p>` : ''}
${body}
</main>
</body>
</html>`.value
}

/** A plain page outside the signed-in frame (refused, signed out, errors). */
export function plainPage(title: string, body: SafeHtml): string {
  return html`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} · portcullis admin</title>
<link rel="stylesheet" href="/admin/assets/console.css"></head>
<body class="console"><main id="main" class="narrow"><h1>${title}</h1>${body}</main></body>
</html>`.value
}

/** A text input with its label, hint and inline error (aria-invalid + aria-describedby). */
export function field(o: {
  name: string
  label: string
  value?: string
  type?: string
  error?: string
  hint?: string
  required?: boolean
  autocomplete?: string
}): SafeHtml {
  const id = `f-${o.name}`
  const described = [o.hint ? `${id}-hint` : '', o.error ? `${id}-error` : ''].filter(Boolean).join(' ')
  return html`<div class="field">
<label for="${id}">${o.label}</label>
${o.hint ? html`<p class="hint" id="${id}-hint">${o.hint}</p>` : ''}
<input id="${id}" name="${o.name}" type="${o.type ?? 'text'}" value="${o.value ?? ''}"${o.required ? html` required` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.error ? html` aria-invalid="true"` : ''}${described ? html` aria-describedby="${described}"` : ''}>
${o.error ? html`<p class="error" id="${id}-error">${o.error}</p>` : ''}
</div>`
}

/** A checkbox with its label. */
export const checkbox = (name: string, label: string, checked = false) =>
  html`<div class="check"><input type="checkbox" id="f-${name}" name="${name}" value="yes"${checked ? html` checked` : ''}><label for="f-${name}">${label}</label></div>`

/** Form-level errors (those the API names no field for), announced once. */
export const formErrors = (errors: Record<string, string>, known: string[]) => {
  const rest = Object.entries(errors).filter(([k]) => !known.includes(k))
  return rest.length
    ? html`<div class="error-box" role="alert"><p>Please correct:</p><ul>${rest.map(([k, m]) => html`<li>${k === '_' ? '' : `${k}: `}${m}</li>`)}</ul></div>`
    : html``
}

/** A secret shown exactly once, with a copy button (console.js) and a warning. */
export function secretOnce(o: { title: string; label: string; secret: string; note?: string }): SafeHtml {
  return html`<section class="secret" aria-labelledby="secret-title">
<h2 id="secret-title">${o.title}</h2>
<p>This is shown <strong>once</strong>. Copy it now; it cannot be shown again.</p>
<label for="secret-value">${o.label}</label>
<div class="copy-row"><input id="secret-value" type="text" readonly value="${o.secret}"><button type="button" class="copy" data-copy="secret-value">Copy</button></div>
<p class="copied" role="status" aria-live="polite"></p>
${o.note ? html`<p class="hint">${o.note}</p>` : ''}
</section>`
}

/** A POST button form with the CSRF token. */
export const actionButton = (action: string, csrf: string, label: string, cls = 'secondary') =>
  html`<form method="post" action="${action}" class="inline"><input type="hidden" name="csrf" value="${csrf}"><button type="submit" class="${cls}">${label}</button></form>`

/** The confirmation step of a destructive action: a page of its own, focus on its heading. */
export function confirmBody(o: {
  heading: string
  text: string
  action: string
  csrf: string
  button: string
  back: string
  etag?: string
}): SafeHtml {
  return html`<h1>${o.heading}</h1>
<p>${o.text}</p>
<form method="post" action="${o.action}">
<input type="hidden" name="csrf" value="${o.csrf}">
${o.etag ? html`<input type="hidden" name="etag" value="${o.etag}">` : ''}
<button type="submit" class="danger">${o.button}</button>
<a class="button-link" href="${o.back}">Cancel</a>
</form>`
}

/** The confirmation step of an action that records why (containment, revocations): a required reason. */
export function confirmWithReason(o: {
  heading: string
  text: string
  action: string
  csrf: string
  button: string
  back: string
  error?: string
  reason?: string
  optional?: boolean
}): SafeHtml {
  return html`<h1>${o.heading}</h1>
<p>${o.text}</p>
<form method="post" action="${o.action}" novalidate>
<input type="hidden" name="csrf" value="${o.csrf}">
${field({ name: 'reason', label: o.optional ? 'Reason (optional, recorded in the audit log)' : 'Reason (recorded in the audit log)', value: o.reason, error: o.error, required: !o.optional, autocomplete: 'off' })}
<button type="submit" class="danger">${o.button}</button>
<a class="button-link" href="${o.back}">Cancel</a>
</form>`
}

/** A select with its label. */
export const select = (
  name: string,
  label: string,
  options: [string, string][],
  value = '',
) => html`<div class="field"><label for="f-${name}">${label}</label>
<select id="f-${name}" name="${name}">${options.map(([v, l]) => html`<option value="${v}"${v === value ? html` selected` : ''}>${l}</option>`)}</select></div>`

/** A textarea with its label, hint and inline error. */
export const textArea = (o: {
  name: string
  label: string
  value?: string
  error?: string
  hint?: string
  rows?: number
}) => html`<div class="field">
<label for="f-${o.name}">${o.label}</label>${o.hint ? html`<p class="hint" id="f-${o.name}-hint">${o.hint}</p>` : ''}
<textarea id="f-${o.name}" name="${o.name}" rows="${String(o.rows ?? 4)}"${o.hint ? html` aria-describedby="f-${o.name}-hint${o.error ? ` f-${o.name}-error` : ''}"` : o.error ? html` aria-describedby="f-${o.name}-error"` : ''}${o.error ? html` aria-invalid="true"` : ''}>${o.value ?? ''}</textarea>
${o.error ? html`<p class="error" id="f-${o.name}-error">${o.error}</p>` : ''}</div>`

/** A page the operator may not use, or whose object is not there. */
export const problem = (title: string, message: string, back: string) =>
  html`<h1>${title}</h1><p role="alert">${message}</p><p><a href="${back}">Back</a></p>`

export const when = (d: string | null | undefined) =>
  d ? new Date(d).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : '—'

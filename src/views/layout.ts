import { html, type SafeHtml } from './html.ts'

/** The page frame every server-rendered page uses: one stylesheet, no inline script or style. */
export function page(title: string, body: SafeHtml, opts: { lang?: string; wide?: boolean; scripts?: string[] } = {}): string {
  return html`<!DOCTYPE html>
<html lang="${opts.lang ?? 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · portcullis</title>
<link rel="stylesheet" href="/assets/style.css">
${(opts.scripts ?? []).map((src) => html`<script src="${src}" defer></script>`)}
</head>
<body>
<main class="card${opts.wide ? ' wide' : ''}">
<p class="brand" aria-hidden="true">portcullis</p>
${body}
</main>
</body>
</html>`.value
}

/** An error message tied to its input (aria-describedby) and announced to screen readers. */
export function fieldError(id: string, message: string | undefined) {
  return message ? html`<p class="error" id="${id}" role="alert">${message}</p>` : html``
}

/** A page that says what went wrong (4xx/5xx pages of the sign-in shell, 429, 503). */
export function errorPage(title: string, message: string) {
  return page(title, html`<h1>${title}</h1><p role="alert">${message}</p>`)
}

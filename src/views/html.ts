/**
 * Tiny HTML templating: `html` escapes every interpolated value unless it is already a
 * `SafeHtml` (the result of another `html` call or `raw`).
 */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString() {
    return this.value
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!)

type Value = SafeHtml | string | number | boolean | null | undefined | Value[]

function render(v: Value): string {
  if (v === null || v === undefined || v === false) return ''
  if (Array.isArray(v)) return v.map(render).join('')
  if (v instanceof SafeHtml) return v.value
  return escapeHtml(String(v))
}

export function html(strings: TemplateStringsArray, ...values: Value[]): SafeHtml {
  let out = strings[0]!
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!
  })
  return new SafeHtml(out)
}

export const raw = (s: string) => new SafeHtml(s)

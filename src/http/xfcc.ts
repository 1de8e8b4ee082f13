import crypto from 'node:crypto'

/**
 * Envoy's `x-forwarded-client-cert` (XFCC) header: comma-separated elements, one per proxy that
 * handled the request, each a `;`-separated list of `Key=Value` pairs (`By`, `Hash`, `Cert`,
 * `Chain`, `Subject`, `URI`, `DNS`). A value holding `,` `;` `=` or `"` is double-quoted, with `\"`
 * for a quote inside. `Cert` is the client certificate as URL-encoded PEM, `Hash` the hex SHA-256
 * of its DER.
 * https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/headers#x-forwarded-client-cert
 */
export type XfccElement = Record<string, string>

/** Longer than any real certificate chain; a longer header is no certificate. */
const MAX_XFCC = 64 * 1024

/** The header's elements, keys lower-cased; undefined when it does not parse. */
export function parseXfcc(value: string): XfccElement[] | undefined {
  if (value.length > MAX_XFCC) return undefined
  const elements: XfccElement[] = []
  let element: XfccElement = {}
  let token = ''
  let key: string | undefined
  let quoted = false
  let wasQuoted = false
  const endPair = (): boolean => {
    if (key === undefined) {
      if (token.trim() === '' && !wasQuoted) return true // empty pair (e.g. a trailing ';')
      return false
    }
    const name = key.trim().toLowerCase()
    // the same key twice in one element is ambiguous: which certificate is the client's?
    if (!name || Object.hasOwn(element, name)) return false
    element[name] = wasQuoted ? token : token.trim()
    key = undefined
    token = ''
    wasQuoted = false
    return true
  }
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!
    if (quoted) {
      if (ch === '\\' && i + 1 < value.length) token += value[++i]
      else if (ch === '"') quoted = false
      else token += ch
      continue
    }
    if (ch === '"' && key !== undefined && token.trim() === '') {
      quoted = true
      wasQuoted = true
      token = ''
    } else if (ch === '=' && key === undefined) {
      key = token
      token = ''
    } else if (ch === ';' || ch === ',') {
      if (!endPair()) return undefined
      token = ''
      if (ch === ',') {
        elements.push(element)
        element = {}
      }
    } else if (wasQuoted) {
      if (ch.trim() !== '') return undefined // text after a closing quote
    } else token += ch
  }
  if (quoted || !endPair()) return undefined
  elements.push(element)
  return elements
}

/**
 * The client's certificate from an XFCC header: the first element is the one the edge proxy
 * (the one the client connected to) added. Its `Cert` must be there (Envoy sends it with
 * `set_current_client_cert_details: { cert: true }`); a `Hash` beside it must be that
 * certificate's, or the header was tampered with and counts as none.
 */
export function xfccCertificate(value: string): crypto.X509Certificate | undefined {
  const first = parseXfcc(value)?.[0]
  if (!first?.cert) return undefined
  let x509: crypto.X509Certificate
  try {
    x509 = new crypto.X509Certificate(decodeURIComponent(first.cert))
  } catch {
    return undefined
  }
  if (first.hash !== undefined && first.hash.toLowerCase() !== crypto.hash('sha256', x509.raw, 'hex')) return undefined
  return x509
}

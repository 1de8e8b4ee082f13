import crypto from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { ipInCidrs, parseCidr, parseIp } from '../net/ip.ts'
import { xfccCertificate } from './xfcc.ts'

/** A client certificate presented with a request (RFC 8705). */
export interface ClientCert {
  pem: string
  x509: crypto.X509Certificate
  /** RFC 8705 §3.1: base64url SHA-256 of the DER certificate, the `cnf.x5t#S256` of bound tokens */
  thumbprint: string
  /**
   * whether it chains to a CA of TLS_CLIENT_CA (tls_client_auth; self-signed ones are not; never without
   * TLS_CLIENT_CA)
   */
  authorized: boolean
}

export interface ClientCertOptions {
  /** MTLS_CERT_HEADER (lower case): the header a TLS-terminating proxy passes the certificate in */
  header?: string
  /**
   * MTLS_CERT_HEADER_FORMAT: `escaped-pem` (the header is URL-encoded PEM, nginx) or `envoy-xfcc`
   * (Envoy's x-forwarded-client-cert, xfcc.ts)
   */
  format?: 'escaped-pem' | 'envoy-xfcc'
  /** TRUSTED_PROXIES: only they may set the header */
  trustedProxies: readonly string[]
  /** TLS_CLIENT_CA: the CAs a certificate from the header is checked against */
  caCerts: readonly crypto.X509Certificate[]
}

/** A certificate issued by one of the CAs (signature checked) and valid now. */
export function issuedBy(
  cert: crypto.X509Certificate,
  cas: readonly crypto.X509Certificate[],
  now = new Date(),
): boolean {
  if (now < new Date(cert.validFrom) || now > new Date(cert.validTo)) return false
  return cas.some((ca) => {
    try {
      return cert.checkIssued(ca) && cert.verify(ca.publicKey)
    } catch {
      return false
    }
  })
}

function certOf(x509: crypto.X509Certificate, authorized: boolean): ClientCert {
  return { pem: x509.toString(), x509, thumbprint: crypto.hash('sha256', x509.raw, 'base64url'), authorized }
}

/**
 * The client certificate of a request, from one of two places:
 * - a trusted proxy (the socket peer is in TRUSTED_PROXIES) that terminated TLS passes it in
 *   MTLS_CERT_HEADER (URL-encoded PEM, or Envoy's XFCC with MTLS_CERT_HEADER_FORMAT=envoy-xfcc);
 *   from such a peer only the header counts. Checked against TLS_CLIENT_CA
 *   here, since whether the proxy verified it is not ours to know.
 * - otherwise the TLS connection itself (the native HTTPS listener), verified by Node against
 *   TLS_CLIENT_CA during the handshake. Anyone else's header is ignored: a client could
 *   otherwise claim any certificate.
 * Resolved once per request.
 */
export function clientCertResolver(opts: ClientCertOptions) {
  const trusted = opts.trustedProxies.map(parseCidr)
  const seen = new WeakMap<IncomingMessage, ClientCert | null>()

  function fromHeader(req: IncomingMessage): ClientCert | undefined {
    const value = req.headers[opts.header!]
    if (typeof value !== 'string' || !value) return undefined
    let x509: crypto.X509Certificate | undefined
    try {
      x509 =
        opts.format === 'envoy-xfcc' ? xfccCertificate(value) : new crypto.X509Certificate(decodeURIComponent(value))
    } catch {
      return undefined // not a certificate: as if none was sent
    }
    return x509 && certOf(x509, issuedBy(x509, opts.caCerts))
  }

  function fromSocket(req: IncomingMessage): ClientCert | undefined {
    const socket = req.socket as Partial<TLSSocket>
    if (!socket.encrypted || !socket.getPeerCertificate) return undefined
    const peer = socket.getPeerCertificate(false)
    if (!peer?.raw?.length) return undefined
    // Without TLS_CLIENT_CA Node would check against the public root CAs: any publicly issued
    // certificate with a matching name must not pass as a client's, so none is "authorized".
    return certOf(new crypto.X509Certificate(peer.raw), socket.authorized === true && opts.caCerts.length > 0)
  }

  return function clientCert(req: IncomingMessage): ClientCert | undefined {
    const known = seen.get(req)
    if (known !== undefined) return known ?? undefined
    const peer = parseIp(req.socket.remoteAddress ?? '')
    const viaProxy = Boolean(opts.header && trusted.length && peer && ipInCidrs(peer, trusted))
    const cert = viaProxy ? fromHeader(req) : fromSocket(req)
    seen.set(req, cert ?? null)
    return cert
  }
}
export type ClientCertOf = ReturnType<typeof clientCertResolver>

/**
 * RFC 8705 §2.1.2: whether the certificate matches the registered tls_client_auth_* value.
 * The subject DN is compared attribute by attribute (RFC 4514 order is the reverse of the
 * certificate's; either is accepted, types case-insensitively); SANs by exact entry.
 */
export function certificateSubjectMatches(cert: crypto.X509Certificate, property: string, expected: string): boolean {
  if (property === 'tls_client_auth_subject_dn') {
    const want = parseDn(expected)
    // Node prints one RDN a line, escaping special characters RFC 4514 style ("O=Example\\, Inc")
    const have = (cert.subject ?? '')
      .split('\n')
      .filter(Boolean)
      .map((rdn) => normaliseRdn(rdn.replace(/\\(.)/g, '$1')))
    const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i])
    return want.length > 0 && (same(want, have) || same([...want].reverse(), have))
  }
  const kind = {
    tls_client_auth_san_dns: 'DNS',
    tls_client_auth_san_ip: 'IP Address',
    tls_client_auth_san_email: 'email',
    tls_client_auth_san_uri: 'URI',
  }[property]
  if (!kind) return false
  const entries = (cert.subjectAltName ?? '').split(/, (?=[A-Za-z ]+:)/).map((e) => {
    const i = e.indexOf(':')
    return [e.slice(0, i), e.slice(i + 1).replace(/^"(.*)"$/, '$1')] as const
  })
  return entries.some(
    ([k, v]) =>
      k === kind && (kind === 'DNS' || kind === 'email' ? v.toLowerCase() === expected.toLowerCase() : v === expected),
  )
}

const normaliseRdn = (rdn: string) => {
  const i = rdn.indexOf('=')
  return `${rdn.slice(0, i).trim().toUpperCase()}=${rdn.slice(i + 1).trim()}`
}

/** RFC 4514 string → RDNs ("CN=a\,b,O=x" → ["CN=a,b", "O=x"]). */
function parseDn(dn: string): string[] {
  const out: string[] = []
  let cur = ''
  for (let i = 0; i < dn.length; i++) {
    const ch = dn[i]!
    if (ch === '\\' && i + 1 < dn.length) cur += dn[++i]
    else if (ch === ',') {
      out.push(cur)
      cur = ''
    } else cur += ch
  }
  out.push(cur)
  return out.filter((r) => r.includes('=')).map(normaliseRdn)
}

import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import type { IncomingMessage } from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { certificateSubjectMatches, clientCertResolver } from '../../src/http/client-cert.ts'

// Certificates made by the openssl CLI: a CA and a leaf it issued with a DN and SANs.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-cc-'))
const f = (n: string) => path.join(dir, n)
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
openssl(
  'req',
  '-x509',
  ...EC,
  '-keyout',
  f('ca.key'),
  '-out',
  f('ca.crt'),
  '-subj',
  '/CN=CA',
  '-days',
  '2',
  '-addext',
  'basicConstraints=critical,CA:TRUE',
  '-addext',
  'keyUsage=critical,keyCertSign',
)
openssl('req', ...EC, '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/C=DE/O=Example\\, Inc/CN=svc')
fs.writeFileSync(
  f('leaf.ext'),
  'subjectAltName=DNS:svc.example.com,IP:10.1.2.3,email:ops@example.com,URI:spiffe://example.com/svc\n',
)
openssl(
  'x509',
  '-req',
  '-in',
  f('leaf.csr'),
  '-CA',
  f('ca.crt'),
  '-CAkey',
  f('ca.key'),
  '-CAcreateserial',
  '-out',
  f('leaf.crt'),
  '-days',
  '2',
  '-extfile',
  f('leaf.ext'),
)
const ca = new crypto.X509Certificate(fs.readFileSync(f('ca.crt')))
const leaf = new crypto.X509Certificate(fs.readFileSync(f('leaf.crt')))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

const req = (peer: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage

describe('client certificates (RFC 8705)', () => {
  it('matches the registered subject DN in RFC 4514 or certificate order, with escapes', () => {
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_subject_dn', 'CN=svc,O=Example\\, Inc,C=DE')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_subject_dn', 'c=DE, o=Example\\, Inc, cn=svc')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_subject_dn', 'CN=svc,O=Example')).toBe(false)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_subject_dn', 'CN=SVC,O=Example\\, Inc,C=DE')).toBe(false)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_subject_dn', '')).toBe(false)
  })

  it('matches SAN entries by kind', () => {
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_dns', 'SVC.example.com')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_ip', '10.1.2.3')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_email', 'ops@example.com')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_uri', 'spiffe://example.com/svc')).toBe(true)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_dns', '10.1.2.3')).toBe(false)
    expect(certificateSubjectMatches(leaf, 'tls_client_auth_san_uri', 'spiffe://example.com/other')).toBe(false)
  })

  it('takes the header from trusted proxies only, and checks it against TLS_CLIENT_CA', () => {
    const header = { 'x-ssl-client-cert': encodeURIComponent(leaf.toString()) }
    const withCa = clientCertResolver({ header: 'x-ssl-client-cert', trustedProxies: ['10.0.0.0/8'], caCerts: [ca] })
    const cert = withCa(req('10.0.0.5', header))
    expect(cert?.thumbprint).toBe(crypto.hash('sha256', leaf.raw, 'base64url'))
    expect(cert?.authorized).toBe(true)
    expect(withCa(req('192.0.2.1', header))).toBeUndefined()
    expect(withCa(req('::ffff:10.0.0.5', header))?.authorized).toBe(true)
    const noCa = clientCertResolver({ header: 'x-ssl-client-cert', trustedProxies: ['10.0.0.0/8'], caCerts: [] })
    expect(noCa(req('10.0.0.5', header))?.authorized).toBe(false)
    const otherCa = clientCertResolver({ header: 'x-ssl-client-cert', trustedProxies: ['10.0.0.0/8'], caCerts: [leaf] })
    expect(otherCa(req('10.0.0.5', header))?.authorized).toBe(false)
  })
})

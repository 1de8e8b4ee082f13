import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import os from 'node:os'
import path from 'node:path'
import * as oidc from 'openid-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeOnBackends } from '../helpers/backends.ts'
import { applyDocument, validateDocument } from '../../src/declarative/apply.ts'
import { loadConfig } from '../../src/config/env.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/**
 * Mutual TLS (RFC 8705) with real certificates made by the openssl CLI in the test: a CA, client
 * certificates it issued, a self-signed one; real HTTPS requests to the native TLS 1.3 listener
 * with and without client certificates, and the proxy header path (MTLS_CERT_HEADER) from a
 * trusted proxy (127.0.0.2) and from anyone else (127.0.0.1).
 */
interface Pair {
  cert: string
  key: string
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-mtls-'))
const file = (name: string) => path.join(dir, name)
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']

function issue(name: string, subject: string, ext: string): Pair {
  openssl('req', ...EC, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`), '-subj', subject)
  fs.writeFileSync(file(`${name}.ext`), ext)
  openssl(
    'x509',
    '-req',
    '-in',
    file(`${name}.csr`),
    '-CA',
    file('ca.crt'),
    '-CAkey',
    file('ca.key'),
    '-CAcreateserial',
    '-out',
    file(`${name}.crt`),
    '-days',
    '2',
    '-extfile',
    file(`${name}.ext`),
  )
  return { cert: fs.readFileSync(file(`${name}.crt`), 'utf8'), key: fs.readFileSync(file(`${name}.key`), 'utf8') }
}
function selfSigned(name: string, subject: string): Pair {
  openssl(
    'req',
    '-x509',
    ...EC,
    '-keyout',
    file(`${name}.key`),
    '-out',
    file(`${name}.crt`),
    '-subj',
    subject,
    '-days',
    '2',
    '-addext',
    'extendedKeyUsage=clientAuth',
  )
  return { cert: fs.readFileSync(file(`${name}.crt`), 'utf8'), key: fs.readFileSync(file(`${name}.key`), 'utf8') }
}

openssl(
  'req',
  '-x509',
  ...EC,
  '-keyout',
  file('ca.key'),
  '-out',
  file('ca.crt'),
  '-subj',
  '/CN=portcullis test CA',
  '-days',
  '2',
  '-addext',
  'basicConstraints=critical,CA:TRUE',
  '-addext',
  'keyUsage=critical,keyCertSign,cRLSign',
)
const CA = fs.readFileSync(file('ca.crt'), 'utf8')
issue('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n'
const pki = issue('pki', '/O=Example/CN=svc-pki', `${CLIENT_EXT}subjectAltName=DNS:svc-pki.example.com\n`)
const other = issue('other', '/O=Example/CN=svc-other', CLIENT_EXT)
const own = selfSigned('self', '/CN=svc-self')
const stranger = selfSigned('stranger', '/O=Example/CN=svc-pki') // the right name, but no CA behind it

const thumbprint = (pem: string) => crypto.hash('sha256', new crypto.X509Certificate(pem).raw, 'base64url')
const escaped = (pem: string) => encodeURIComponent(pem) // nginx's $ssl_client_escaped_cert
const TRUSTED_PROXY = '127.0.0.2'
const HEADER = 'X-SSL-Client-Cert'

let server: TestServer
interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  json: Record<string, unknown>
}

/** One HTTPS request on a fresh connection (agent: false), optionally with a client certificate. */
function call(
  method: string,
  pathname: string,
  opts: {
    client?: Pair
    headers?: Record<string, string>
    form?: Record<string, string>
    json?: unknown
    from?: string
  } = {},
): Promise<Reply> {
  const body = opts.form
    ? new URLSearchParams(opts.form).toString()
    : opts.json !== undefined
      ? JSON.stringify(opts.json)
      : undefined
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: server.port,
        method,
        path: pathname,
        agent: false,
        ca: CA,
        ...(opts.client ? { cert: opts.client.cert, key: opts.client.key } : {}),
        ...(opts.from ? { localAddress: opts.from } : {}),
        headers: {
          host: `localhost:${server.port}`,
          accept: 'application/json',
          ...opts.headers,
          ...(body
            ? {
                'content-type': opts.form ? 'application/x-www-form-urlencoded' : 'application/json',
                'content-length': String(Buffer.byteLength(body)),
              }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: Record<string, unknown> = {}
          try {
            json = JSON.parse(text) as Record<string, unknown>
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode!, headers: res.headers, json })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}
const token = (clientId: string, opts: Parameters<typeof call>[2] = {}) =>
  call('POST', '/token', {
    ...opts,
    form: { grant_type: 'client_credentials', client_id: clientId, scope: 'authz:check' },
  })
const claims = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>
const stores = (accessToken: string, opts: Parameters<typeof call>[2] = {}) =>
  call('GET', '/authz/v1/stores', { ...opts, headers: { ...opts.headers, authorization: `Bearer ${accessToken}` } })

/**
 * openid-client's fetch over node:https with a client certificate (global fetch cannot present
 * one without undici's Agent), so the RP library itself runs tls_client_auth.
 */
const certFetch =
  (client: Pair): oidc.CustomFetch =>
  (url, options) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(url)
      const req = https.request(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: u.port,
          method: options.method,
          path: u.pathname + u.search,
          headers: { ...options.headers, host: u.host },
          ca: CA,
          agent: false,
          cert: client.cert,
          key: client.key,
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const headers = new Headers()
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v)
            resolve(
              new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode!, headers }),
            )
          })
        },
      )
      req.on('error', reject)
      req.end(options.body === undefined || options.body === null ? undefined : String(options.body))
    })

describeOnBackends('mtls.test.ts', 'Mutual TLS (RFC 8705)', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    server = await startTestServer({
      kind,
      redisUrl,
      https: true,
      env: {
        TLS_CERT: file('server.crt'),
        TLS_KEY: file('server.key'),
        TLS_CLIENT_CA: file('ca.crt'),
        MTLS_CERT_HEADER: HEADER,
        TRUSTED_PROXIES: TRUSTED_PROXY,
      },
    })
    const selfJwk = {
      ...new crypto.X509Certificate(own.cert).publicKey.export({ format: 'jwk' }),
      x5c: [new crypto.X509Certificate(own.cert).raw.toString('base64')],
    }
    const service = {
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'authz:check',
      tls_client_certificate_bound_access_tokens: true,
    }
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        // RFC 4514 order (last RDN first), as Keycloak and most PKI tooling print it
        {
          client_id: 'svc-pki',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: 'CN=svc-pki,O=Example',
          ...service,
        },
        {
          client_id: 'svc-san',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_san_dns: 'svc-pki.example.com',
          ...service,
        },
        {
          client_id: 'svc-self',
          token_endpoint_auth_method: 'self_signed_tls_client_auth',
          jwks: { keys: [selfJwk] },
          ...service,
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    await server?.close()
  })

  it('serves HTTPS (TLS 1.3) to clients without a certificate and advertises mTLS in discovery', async () => {
    const res = await call('GET', '/.well-known/openid-configuration')
    expect(res.status).toBe(200)
    expect(res.json.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']),
    )
    expect(res.json.tls_client_certificate_bound_access_tokens).toBe(true)
    expect(res.json.mtls_endpoint_aliases).toMatchObject({ token_endpoint: `${server.url}/token` })
    await expect(
      new Promise((resolve, reject) => {
        const req = https.request(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port: server.port,
            path: '/health',
            ca: CA,
            agent: false,
            maxVersion: 'TLSv1.2',
          },
          resolve,
        )
        req.on('error', reject)
        req.end()
      }),
    ).rejects.toThrow()
  })

  it('tls_client_auth: a CA-issued certificate with the registered subject gets a certificate-bound token', async () => {
    const res = await token('svc-pki', { client: pki })
    expect(res.status).toBe(200)
    expect(claims(res.json.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint(pki.cert) })
    const san = await token('svc-san', { client: pki })
    expect(san.status).toBe(200)
  })

  it('openid-client as the RP: TlsClientAuth through the mtls_endpoint_aliases', async () => {
    const config = await oidc.discovery(
      new URL(server.url),
      'svc-pki',
      { use_mtls_endpoint_aliases: true },
      oidc.TlsClientAuth(),
      { [oidc.customFetch]: certFetch(pki) },
    )
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'authz:check' })
    expect(claims(tokens.access_token).cnf).toEqual({ 'x5t#S256': thumbprint(pki.cert) })
    expect((await stores(tokens.access_token, { client: pki })).status).toBe(200)
    const wrong = await oidc.discovery(
      new URL(server.url),
      'svc-pki',
      { use_mtls_endpoint_aliases: true },
      oidc.TlsClientAuth(),
      { [oidc.customFetch]: certFetch(other) },
    )
    await expect(oidc.clientCredentialsGrant(wrong, { scope: 'authz:check' })).rejects.toMatchObject({
      error: 'invalid_client',
    })
  })

  it('tls_client_auth: no certificate, another subject, or a self-signed look-alike is invalid_client', async () => {
    for (const client of [undefined, other, stranger, own]) {
      const res = await token('svc-pki', { client })
      expect(res.status, client?.cert.slice(30, 60)).toBe(401)
      expect(res.json.error).toBe('invalid_client')
    }
    expect((await token('svc-san', { client: other })).json.error).toBe('invalid_client')
  })

  it('self_signed_tls_client_auth: only the registered certificate authenticates', async () => {
    const res = await token('svc-self', { client: own })
    expect(res.status).toBe(200)
    expect(claims(res.json.access_token as string).cnf).toEqual({ 'x5t#S256': thumbprint(own.cert) })
    for (const client of [undefined, pki, stranger])
      expect((await token('svc-self', { client })).json.error).toBe('invalid_client')
  })

  it('our APIs honour the binding: the token works with its certificate only (RFC 8705 §3)', async () => {
    const bound = (await token('svc-pki', { client: pki })).json.access_token as string
    expect((await stores(bound, { client: pki })).status).toBe(200)
    for (const client of [undefined, other, own]) {
      const res = await stores(bound, { client })
      expect(res.status).toBe(401)
      expect(res.json.error ?? res.json.code).toBe('invalid_token')
      expect(String(res.headers['www-authenticate'])).toContain('error="invalid_token"')
    }
    // the decision fast lane refuses it too (and Koa answers the 401)
    const decision = { subject: 'user:a', object: 'doc', action: 'read' }
    const check = (client?: Pair) =>
      call('POST', '/authz/v1/stores/none/check', {
        client,
        headers: { authorization: `Bearer ${bound}` },
        json: decision,
      })
    expect((await check()).status).toBe(401)
    expect((await check(pki)).status).not.toBe(401)
  })

  it('the proxy header is believed from a trusted proxy only', async () => {
    const viaProxy = { from: TRUSTED_PROXY, headers: { [HEADER]: escaped(pki.cert) } }
    const res = await token('svc-pki', viaProxy)
    expect(res.status).toBe(200)
    const bound = res.json.access_token as string
    expect(claims(bound).cnf).toEqual({ 'x5t#S256': thumbprint(pki.cert) })
    expect((await stores(bound, viaProxy)).status).toBe(200)
    // a self-signed certificate through the proxy is not "authorized" for tls_client_auth
    expect(
      (await token('svc-pki', { from: TRUSTED_PROXY, headers: { [HEADER]: escaped(stranger.cert) } })).json.error,
    ).toBe('invalid_client')
    expect((await token('svc-self', { from: TRUSTED_PROXY, headers: { [HEADER]: escaped(own.cert) } })).status).toBe(
      200,
    )
    // anyone else claiming a certificate in the header is ignored
    const spoofed = { headers: { [HEADER]: escaped(pki.cert) } }
    expect((await token('svc-pki', spoofed)).json.error).toBe('invalid_client')
    expect((await stores(bound, spoofed)).status).toBe(401)
    // from the proxy, the header is the certificate: the proxy's own TLS certificate is not the client's
    expect((await stores(bound, { from: TRUSTED_PROXY, client: pki })).status).toBe(401)
  })

  it('hostile header values are no certificate, never a 500', async () => {
    for (const value of [
      '%E0%A4%A',
      'not a certificate',
      escaped('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'),
      '%00'.repeat(200),
    ]) {
      const res = await token('svc-pki', { from: TRUSTED_PROXY, headers: { [HEADER]: value } })
      expect(res.status).toBe(401)
      expect(res.json.error).toBe('invalid_client')
    }
  })
})

/** Envoy's x-forwarded-client-cert, as Envoy writes it with `set_current_client_cert_details: { cert: true }`. */
const xfcc = (pem: string, extra = '') =>
  `By=spiffe://cluster.local/ns/id/sa/portcullis;Hash=${crypto.hash('sha256', new crypto.X509Certificate(pem).raw, 'hex')};` +
  `Cert="${encodeURIComponent(pem)}";Subject="${new crypto.X509Certificate(pem).subject.replace(/\n/g, ',')}"${extra}`

describeOnBackends('mtls.test.ts', 'Mutual TLS behind Envoy (x-forwarded-client-cert)', ({ kind, redisUrl }) => {
  beforeAll(async () => {
    server = await startTestServer({
      kind,
      redisUrl,
      https: true,
      env: {
        TLS_CERT: file('server.crt'),
        TLS_KEY: file('server.key'),
        TLS_CLIENT_CA: file('ca.crt'),
        MTLS_CERT_HEADER_FORMAT: 'envoy-xfcc',
        TRUSTED_PROXIES: TRUSTED_PROXY,
      },
    })
    const { doc, problems } = await validateDocument(server.container, {
      clients: [
        {
          client_id: 'svc-pki',
          token_endpoint_auth_method: 'tls_client_auth',
          tls_client_auth_subject_dn: 'CN=svc-pki,O=Example',
          grant_types: ['client_credentials'],
          response_types: [],
          scope: 'authz:check',
          tls_client_certificate_bound_access_tokens: true,
        },
      ],
    })
    expect(problems).toEqual([])
    await applyDocument(server.container, doc!)
  })
  afterAll(async () => {
    await server?.close()
  })

  const XFCC = 'X-Forwarded-Client-Cert'
  it('tls_client_auth and cnf.x5t#S256 binding through XFCC from the trusted proxy', async () => {
    const viaEnvoy = { from: TRUSTED_PROXY, headers: { [XFCC]: xfcc(pki.cert) } }
    const res = await token('svc-pki', viaEnvoy)
    expect(res.status).toBe(200)
    const bound = res.json.access_token as string
    expect(claims(bound).cnf).toEqual({ 'x5t#S256': thumbprint(pki.cert) })
    expect((await stores(bound, viaEnvoy)).status).toBe(200)
    // the first element is the client's: later ones were added by proxies further in
    const chained = { from: TRUSTED_PROXY, headers: { [XFCC]: `${xfcc(pki.cert)},${xfcc(other.cert)}` } }
    expect((await stores(bound, chained)).status).toBe(200)
    const otherFirst = { from: TRUSTED_PROXY, headers: { [XFCC]: `${xfcc(other.cert)},${xfcc(pki.cert)}` } }
    expect((await stores(bound, otherFirst)).status).toBe(401)
    expect((await token('svc-pki', otherFirst)).json.error).toBe('invalid_client')
  })

  it("an untrusted peer's XFCC header is ignored; a Hash that is not the Cert's, or no Cert, is no certificate", async () => {
    const bound = (await token('svc-pki', { from: TRUSTED_PROXY, headers: { [XFCC]: xfcc(pki.cert) } })).json
      .access_token as string
    const spoofed = { headers: { [XFCC]: xfcc(pki.cert) } }
    expect((await token('svc-pki', spoofed)).json.error).toBe('invalid_client')
    expect((await stores(bound, spoofed)).status).toBe(401)
    const wrongHash = xfcc(pki.cert).replace(/Hash=[0-9a-f]+/, `Hash=${'0'.repeat(64)}`)
    const hashOnly = xfcc(pki.cert).replace(/;Cert="[^"]*"/, '')
    for (const value of [wrongHash, hashOnly, 'Cert="unterminated', `Cert=${encodeURIComponent(pki.cert)};Cert=x`]) {
      const res = await token('svc-pki', { from: TRUSTED_PROXY, headers: { [XFCC]: value } })
      expect(res.status, value.slice(0, 40)).toBe(401)
      expect(res.json.error).toBe('invalid_client')
    }
  })
})

describe('Mutual TLS configuration', () => {
  let plain: TestServer
  beforeAll(async () => {
    plain = await startTestServer()
  })
  afterAll(async () => {
    await plain?.close()
  })

  it('is not advertised without TLS_CERT or MTLS_CERT_HEADER', async () => {
    const meta = (await (await fetch(`${plain.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >
    expect(meta.token_endpoint_auth_methods_supported).not.toContain('tls_client_auth')
    expect(meta.tls_client_certificate_bound_access_tokens).toBeUndefined()
    expect(meta.mtls_endpoint_aliases).toBeUndefined()
  })

  it('fails fast, naming the variable, on unreadable or invalid files', () => {
    fs.writeFileSync(file('junk.pem'), 'not pem at all')
    const cases: [Record<string, string>, RegExp][] = [
      [{ TLS_CERT: file('missing.crt'), TLS_KEY: file('server.key') }, /TLS_CERT: cannot read/],
      [{ TLS_CERT: file('server.crt') }, /TLS_KEY: required/],
      [{ TLS_CERT: file('junk.pem'), TLS_KEY: file('server.key') }, /TLS_CERT: no PEM certificate/],
      [{ TLS_CERT: file('server.crt'), TLS_KEY: file('junk.pem') }, /TLS_KEY: not a PEM private key/],
      [{ TLS_CERT: file('server.crt'), TLS_KEY: file('pki.key') }, /TLS_KEY: does not belong/],
      [{ TLS_CLIENT_CA: file('junk.pem') }, /TLS_CLIENT_CA: no PEM certificate/],
      [{ MTLS_CERT_HEADER: HEADER }, /MTLS_CERT_HEADER: needs TRUSTED_PROXIES/],
      [{ MTLS_CERT_HEADER: 'bad header', TRUSTED_PROXIES: '10.0.0.1' }, /MTLS_CERT_HEADER/],
      [{ MTLS_CERT_HEADER_FORMAT: 'envoy-xfcc' }, /MTLS_CERT_HEADER: needs TRUSTED_PROXIES/],
      [{ MTLS_CERT_HEADER_FORMAT: 'haproxy', TRUSTED_PROXIES: '10.0.0.1' }, /MTLS_CERT_HEADER_FORMAT/],
    ]
    for (const [env, message] of cases) expect(() => loadConfig(env)).toThrow(message)
    expect(
      loadConfig({ TLS_CERT: file('server.crt'), TLS_KEY: file('server.key'), TLS_CLIENT_CA: file('ca.crt') }).tls
        ?.caCerts,
    ).toHaveLength(1)
    expect(loadConfig({ MTLS_CERT_HEADER_FORMAT: 'envoy-xfcc', TRUSTED_PROXIES: '10.0.0.1' }).MTLS_CERT_HEADER).toBe(
      'x-forwarded-client-cert',
    )
  })
})

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

import crypto from 'node:crypto'
import fs from 'node:fs'
import { ConfigError } from '../errors.ts'

/** The HTTPS listener's key material and the CAs client certificates are checked against. */
export interface TlsMaterial {
  /** PEM of the server certificate (chain) and its private key; both set, or neither */
  cert?: string
  key?: string
  /** PEM bundle of the CAs that issue client certificates (TLS_CLIENT_CA), for tls_client_auth */
  ca?: string
  caCerts: readonly crypto.X509Certificate[]
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function read(name: string, file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(
      `invalid configuration:\n  ${name}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
}

function certificates(name: string, pem: string): crypto.X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? []
  if (!blocks.length)
    throw new ConfigError(
      `invalid configuration:\n  ${name}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`,
    )
  try {
    return blocks.map((b) => new crypto.X509Certificate(b))
  } catch (err) {
    throw new ConfigError(`invalid configuration:\n  ${name}: not a valid X.509 certificate: ${(err as Error).message}`)
  }
}

/**
 * Reads TLS_CERT, TLS_KEY and TLS_CLIENT_CA (file paths) once at start. Anything unreadable or
 * invalid fails the start, naming the variable, instead of surfacing as a handshake error later.
 */
export function readTls(env: { TLS_CERT?: string; TLS_KEY?: string; TLS_CLIENT_CA?: string }): TlsMaterial | undefined {
  if (!env.TLS_CERT && !env.TLS_KEY && !env.TLS_CLIENT_CA) return undefined
  if (Boolean(env.TLS_CERT) !== Boolean(env.TLS_KEY)) {
    const missing = env.TLS_CERT ? 'TLS_KEY' : 'TLS_CERT'
    throw new ConfigError(
      `invalid configuration:\n  ${missing}: required when ${missing === 'TLS_KEY' ? 'TLS_CERT' : 'TLS_KEY'} is set (the HTTPS listener needs both)`,
    )
  }
  const out: TlsMaterial = { caCerts: [] }
  if (env.TLS_CERT && env.TLS_KEY) {
    const cert = read('TLS_CERT', env.TLS_CERT)
    const key = read('TLS_KEY', env.TLS_KEY)
    const leaf = certificates('TLS_CERT', cert)[0]!
    let privateKey: crypto.KeyObject
    try {
      privateKey = crypto.createPrivateKey(key)
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  TLS_KEY: not a PEM private key: ${(err as Error).message}`)
    }
    if (!leaf.checkPrivateKey(privateKey))
      throw new ConfigError('invalid configuration:\n  TLS_KEY: does not belong to the certificate in TLS_CERT')
    Object.assign(out, { cert, key })
  }
  if (env.TLS_CLIENT_CA) {
    const ca = read('TLS_CLIENT_CA', env.TLS_CLIENT_CA)
    Object.assign(out, { ca, caCerts: certificates('TLS_CLIENT_CA', ca) })
  }
  return out
}

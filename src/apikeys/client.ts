import crypto from 'node:crypto'
import { contentDigest, signatureBase, signatureParams } from './signatures.ts'

/**
 * Client helper for portcullis API keys: sign requests (RFC 9421 + RFC 9530) for keys that
 * require it, and call an API with a key. Depends only on node:crypto; see
 * examples/sign-request.ts and README "Signed requests" for other languages.
 */
export type SigningMaterial =
  | { alg: 'hmac-sha256'; /** the signing_secret shown when the key was issued (base64url) */ secret: string }
  | {
      alg: 'ed25519'
      /** PEM (PKCS#8), a private JWK, or a KeyObject */ privateKey: string | crypto.JsonWebKey | crypto.KeyObject
    }

/** The public key id inside `pcs_<id>_<secret><crc>`. */
export function keyIdOf(apiKey: string): string {
  const m = /^pcs_([0-9A-Za-z]{16})_/.exec(apiKey)
  if (!m) throw new Error('not a portcullis API key (pcs_...)')
  return m[1]!
}

export interface SignOptions {
  method: string
  url: string | URL
  body?: string | Uint8Array
  keyId: string
  signing: SigningMaterial
  /** Unix seconds; default now */
  created?: number
  /** default 16 random bytes, base64url */
  nonce?: string
  /** extra covered header fields (lowercase names), e.g. ['content-type'] */
  extraComponents?: string[]
  /** values of the extra components */
  headers?: Record<string, string>
}

/** Returns the headers to add: Content-Digest, Signature-Input and Signature. */
export function signRequest(o: SignOptions): Record<string, string> {
  const body = o.body === undefined ? Buffer.alloc(0) : Buffer.from(o.body)
  const digest = contentDigest(body)
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(o.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    'content-digest': digest,
  }
  const components = ['@method', '@target-uri', 'content-digest', ...(o.extraComponents ?? [])]
  const params = signatureParams({
    components,
    created: o.created ?? Math.floor(Date.now() / 1000),
    nonce: o.nonce ?? crypto.randomBytes(16).toString('base64url'),
    keyid: o.keyId,
    alg: o.signing.alg,
  })
  const base = Buffer.from(
    signatureBase(components, params, {
      method: o.method,
      targetUri: new URL(o.url).toString(),
      header: (n) => headers[n],
    }),
  )
  const signature =
    o.signing.alg === 'hmac-sha256'
      ? crypto.createHmac('sha256', Buffer.from(o.signing.secret, 'base64url')).update(base).digest()
      : crypto.sign(null, base, privateKeyOf(o.signing.privateKey))
  return {
    'content-digest': digest,
    'signature-input': `sig1=${params}`,
    signature: `sig1=:${signature.toString('base64')}:`,
  }
}

function privateKeyOf(k: string | crypto.JsonWebKey | crypto.KeyObject): crypto.KeyObject {
  if (k instanceof crypto.KeyObject) return k
  return typeof k === 'string' ? crypto.createPrivateKey(k) : crypto.createPrivateKey({ key: k, format: 'jwk' })
}

/** fetch() with `Authorization: Bearer <apiKey>`, signed when `signing` is given. */
export async function fetchWithKey(
  apiKey: string,
  url: string | URL,
  init: { method?: string; body?: string; headers?: Record<string, string>; signing?: SigningMaterial } = {},
) {
  const method = init.method ?? (init.body !== undefined ? 'POST' : 'GET')
  const headers: Record<string, string> = { ...init.headers, authorization: `Bearer ${apiKey}` }
  if (init.signing)
    Object.assign(headers, signRequest({ method, url, body: init.body, keyId: keyIdOf(apiKey), signing: init.signing }))
  return fetch(url, { method, headers, body: init.body })
}

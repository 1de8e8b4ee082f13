import crypto from 'node:crypto'
import { isInner, parseDictionary, sfString, type Bare, type InnerList } from './structured-fields.ts'
import type { NonceStore } from './replay.ts'
import type { SigningAlg } from './queries.ts'
import { safeEqual } from '../crypto/constant-time.ts'

/**
 * HTTP Message Signatures (RFC 9421) for API keys of level HIGH and CRITICAL.
 *
 * A signed request carries three headers besides `Authorization: Bearer pcs_...`:
 *
 *   Content-Digest: sha-256=:<base64 SHA-256 of the body>:                  (RFC 9530)
 *   Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=<unix s>;nonce="<random>";
 *                    keyid="<key id>";alg="hmac-sha256"          (one line on the wire)
 *   Signature: sig1=:<base64 signature over the signature base>:
 *
 * The covered components must include `@method`, `@target-uri` and `content-digest` (others,
 * e.g. `content-type`, may be added); `created`, `nonce` and `keyid` are required parameters.
 * The signature base is RFC 9421 §2.5: one line per component, `"<name>": <value>`, then
 * `"@signature-params": <the Signature-Input member value>`, joined with "\n", no final newline.
 * Algorithms: `hmac-sha256` (key = the base64url-decoded signing secret) or `ed25519`.
 */
export const REQUIRED_COMPONENTS = ['@method', '@target-uri', 'content-digest'] as const

export interface SignedRequest {
  method: string
  /** the absolute URI the client called (scheme, host, path and query) */
  targetUri: string
  header(name: string): string | undefined
  /** the body as received; when given, Content-Digest is checked against it */
  body?: Buffer
}

export type SignatureFailureCode =
  | 'signature_required'
  | 'signature_malformed'
  | 'signature_component_missing'
  | 'signature_stale'
  | 'digest_mismatch'
  | 'signature_invalid'
  | 'signature_replayed'

export class SignatureError extends Error {
  constructor(
    readonly code: SignatureFailureCode,
    message: string,
  ) {
    super(message)
  }
}

/** RFC 9530 Content-Digest value for a body. */
export function contentDigest(body: Buffer | string, alg: 'sha-256' | 'sha-512' = 'sha-256') {
  const digest = crypto
    .createHash(alg === 'sha-256' ? 'sha256' : 'sha512')
    .update(body)
    .digest('base64')
  return `${alg}=:${digest}:`
}

/** The value of one covered component (RFC 9421 §2.1 header fields, §2.2 derived components). */
export function componentValue(
  name: string,
  req: Pick<SignedRequest, 'method' | 'targetUri' | 'header'>,
): string | undefined {
  if (name.startsWith('@')) {
    const url = new URL(req.targetUri)
    switch (name) {
      case '@method':
        return req.method.toUpperCase()
      case '@target-uri':
        return req.targetUri
      case '@authority':
        return url.host.toLowerCase()
      case '@scheme':
        return url.protocol.slice(0, -1).toLowerCase()
      case '@path':
        return url.pathname
      case '@query':
        return url.search || '?'
      case '@request-target':
        return url.pathname + url.search
      default:
        return undefined
    }
  }
  const v = req.header(name)
  // §2.1: leading/trailing whitespace trimmed; repeated fields arrive joined with ", ".
  return v === undefined ? undefined : v.trim()
}

/** The signature base (RFC 9421 §2.5). */
export function signatureBase(
  components: readonly string[],
  params: string,
  req: Pick<SignedRequest, 'method' | 'targetUri' | 'header'>,
): string {
  const lines = components.map((c) => {
    const v = componentValue(c, req)
    if (v === undefined)
      throw new SignatureError('signature_component_missing', `the signed component ${c} is not in the request`)
    return `${sfString(c)}: ${v}`
  })
  lines.push(`"@signature-params": ${params}`)
  return lines.join('\n')
}

/** Serialized Signature-Input member value for the given parameters. */
export function signatureParams(p: {
  components: readonly string[]
  created: number
  nonce: string
  keyid: string
  alg: SigningAlg
  expires?: number
}) {
  return `(${p.components.map(sfString).join(' ')});created=${p.created}${p.expires ? `;expires=${p.expires}` : ''};nonce=${sfString(p.nonce)};keyid=${sfString(p.keyid)};alg=${sfString(p.alg)}`
}

export interface VerificationKey {
  id: string
  alg: SigningAlg
  /** HMAC key bytes, or the Ed25519 public key */
  key: Buffer | crypto.KeyObject
}

export interface VerifyOptions {
  now?: number
  /** seconds `created` may differ from our clock */
  maxSkew: number
  nonces: NonceStore
}

const str = (v: Bare | undefined) => (typeof v === 'string' ? v : undefined)
const int = (v: Bare | undefined) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined)

/** Verifies a request's signature for a key; throws SignatureError naming what is wrong. */
export async function verifyRequestSignature(
  req: SignedRequest,
  key: VerificationKey,
  opts: VerifyOptions,
): Promise<void> {
  const inputHeader = req.header('signature-input')
  const sigHeader = req.header('signature')
  if (!inputHeader || !sigHeader) {
    throw new SignatureError(
      'signature_required',
      'this API key requires signed requests (RFC 9421): send Signature-Input and Signature',
    )
  }
  let inputs, sigs
  try {
    inputs = parseDictionary(inputHeader)
    sigs = parseDictionary(sigHeader)
  } catch (e) {
    throw new SignatureError(
      'signature_malformed',
      `Signature-Input or Signature is not a valid structured field: ${(e as Error).message}`,
    )
  }
  // The first signature made with this key (a request may carry others, e.g. a proxy's).
  const entries = [...inputs].filter((e): e is [string, InnerList] => isInner(e[1]))
  const chosen = entries.find(([, m]) => str(m.params.get('keyid')) === key.id) ?? entries[0]
  if (!chosen) throw new SignatureError('signature_malformed', 'Signature-Input has no signature (label=(...);params)')
  const [label, input] = chosen
  const sig = sigs.get(label)
  if (!sig || isInner(sig) || !Buffer.isBuffer(sig.value))
    throw new SignatureError('signature_malformed', `Signature has no byte sequence for label ${label}`)

  const components: string[] = []
  for (const item of input.items) {
    if (typeof item.value !== 'string' || item.params.size) {
      throw new SignatureError(
        'signature_malformed',
        'covered components must be plain quoted names (no ;sf, ;key, ;req parameters)',
      )
    }
    // RFC 9421 §2.1: component names are lowercase.
    if (item.value !== item.value.toLowerCase())
      throw new SignatureError('signature_malformed', `component names are lowercase (${item.value})`)
    components.push(item.value)
  }
  const missing = REQUIRED_COMPONENTS.filter((c) => !components.includes(c))
  if (missing.length)
    throw new SignatureError('signature_component_missing', `the signature must cover ${missing.join(', ')}`)

  const created = int(input.params.get('created'))
  const nonce = str(input.params.get('nonce'))
  const keyid = str(input.params.get('keyid'))
  const alg = str(input.params.get('alg'))
  const expires = int(input.params.get('expires'))
  if (created === undefined)
    throw new SignatureError('signature_component_missing', 'the signature needs a created parameter (Unix seconds)')
  if (!nonce) throw new SignatureError('signature_component_missing', 'the signature needs a nonce parameter')
  if (!/^[\x21-\x7e]{8,256}$/.test(nonce))
    throw new SignatureError('signature_malformed', 'nonce must be 8-256 visible ASCII characters')
  if (keyid !== key.id) throw new SignatureError('signature_malformed', `keyid must be the API key id ${key.id}`)
  if (alg !== undefined && alg !== key.alg)
    throw new SignatureError('signature_malformed', `this key signs with ${key.alg}, not ${alg}`)

  const now = Math.floor((opts.now ?? Date.now()) / 1000)
  if (Math.abs(now - created) > opts.maxSkew) {
    throw new SignatureError(
      'signature_stale',
      `created is ${now - created}s away from the server clock; at most ${opts.maxSkew}s is allowed`,
    )
  }
  if (expires !== undefined && expires < now)
    throw new SignatureError('signature_stale', 'the signature has expired (expires parameter)')

  if (req.body !== undefined) checkDigest(req.header('content-digest'), req.body)

  const base = Buffer.from(signatureBase(components, input.raw, req))
  const ok =
    key.alg === 'hmac-sha256'
      ? safeEqual(
          crypto
            .createHmac('sha256', key.key as Buffer)
            .update(base)
            .digest(),
          sig.value,
        )
      : crypto.verify(null, base, key.key as crypto.KeyObject, sig.value)
  if (!ok) throw new SignatureError('signature_invalid', 'the request signature does not verify')

  // Only a valid signature may use up a nonce, so nobody can burn another caller's nonces.
  if (!(await opts.nonces.firstUse(key.id, nonce)))
    throw new SignatureError('signature_replayed', 'this nonce was already used: the request is a replay')
}

/** RFC 9530: the Content-Digest header must name sha-256 or sha-512 and match the body. */
export function checkDigest(header: string | undefined, body: Buffer) {
  if (!header) throw new SignatureError('signature_component_missing', 'Content-Digest is missing')
  let dict
  try {
    dict = parseDictionary(header)
  } catch (e) {
    throw new SignatureError(
      'signature_malformed',
      `Content-Digest is not a valid structured field: ${(e as Error).message}`,
    )
  }
  let checked = false
  for (const alg of ['sha-256', 'sha-512'] as const) {
    const m = dict.get(alg)
    if (!m) continue
    if (isInner(m) || !Buffer.isBuffer(m.value))
      throw new SignatureError('signature_malformed', `Content-Digest ${alg} must be a byte sequence`)
    const actual = crypto
      .createHash(alg === 'sha-256' ? 'sha256' : 'sha512')
      .update(body)
      .digest()
    if (!safeEqual(actual, m.value))
      throw new SignatureError('digest_mismatch', 'Content-Digest does not match the request body')
    checked = true
  }
  if (!checked) throw new SignatureError('signature_malformed', 'Content-Digest must use sha-256 or sha-512')
}

/** The verification key for a stored signing configuration. */
export function publicKeyFromJwk(jwkText: string): crypto.KeyObject {
  return crypto.createPublicKey({ key: JSON.parse(jwkText) as crypto.JsonWebKey, format: 'jwk' })
}

/** Accepts an Ed25519 public key as a JWK (object or JSON) or PEM (SPKI); returns its public JWK. */
export function normaliseEd25519PublicKey(input: unknown): crypto.JsonWebKey {
  let key: crypto.KeyObject
  try {
    if (typeof input === 'string' && input.includes('-----BEGIN')) key = crypto.createPublicKey(input)
    else {
      const jwk = (typeof input === 'string' ? JSON.parse(input) : input) as crypto.JsonWebKey
      key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: 'jwk' })
    }
  } catch {
    throw new Error(
      'public_key must be an Ed25519 public key: a JWK {"kty":"OKP","crv":"Ed25519","x":...} or a PEM SPKI block',
    )
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519')
    throw new Error('public_key must be an Ed25519 public key')
  const { kty, crv, x } = key.export({ format: 'jwk' })
  return { kty, crv, x }
}

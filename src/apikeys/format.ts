import crypto from 'node:crypto'
import zlib from 'node:zlib'

/**
 * The API key format: `pcs_<id>_<secret><checksum>`, all base62 so a double-click selects the
 * whole key and `_` only ever separates parts.
 *
 * - `pcs_`: a fixed prefix so secret scanners (GitHub push protection, gitleaks, trufflehog)
 *   can recognise leaked keys with one regular expression: `pcs_[0-9A-Za-z]{16}_[0-9A-Za-z]{49}`.
 * - `<id>`: 16 base62 characters (~95 bits), the public key id (shown in listings, logs, audit).
 * - `<secret>`: 256 random bits as exactly 43 base62 characters (62^43 > 2^256).
 * - `<checksum>`: CRC32 of everything before it, 6 base62 characters. Like GitHub's tokens it
 *   lets us (and scanners) reject a mistyped or truncated key without a database lookup. It is
 *   not a security control: CRC32 is public and forgeable, the HMAC of the secret is.
 */
export const KEY_PREFIX = 'pcs_'
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const ID_LEN = 16
const SECRET_LEN = 43
const CRC_LEN = 6
export const KEY_PATTERN = /^pcs_([0-9A-Za-z]{16})_([0-9A-Za-z]{43})([0-9A-Za-z]{6})$/
export const KEY_ID_PATTERN = /^[0-9A-Za-z]{16}$/

/** Fixed-width base62 of a non-negative integer. */
function base62(n: bigint, width: number): string {
  let out = ''
  for (let i = 0; i < width; i++) {
    out = ALPHABET[Number(n % 62n)]! + out
    n /= 62n
  }
  return out
}

/** A uniformly random base62 string (rejection sampling: bytes >= 248 are discarded). */
function randomBase62(len: number): string {
  let out = ''
  while (out.length < len) {
    for (const b of crypto.randomBytes(len * 2)) {
      if (b < 248 && out.length < len) out += ALPHABET[b % 62]
    }
  }
  return out
}

const checksum = (body: string) => base62(BigInt(zlib.crc32(body)), CRC_LEN)

export const newKeyId = () => randomBase62(ID_LEN)

/** A new key for `id`: 256 random bits of secret plus the checksum. */
export function newKey(id: string): { key: string; secret: string } {
  const secret = base62(BigInt(`0x${crypto.randomBytes(32).toString('hex')}`), SECRET_LEN)
  const body = `${KEY_PREFIX}${id}_${secret}`
  return { key: body + checksum(body), secret }
}

export type ParsedKey = { ok: true; id: string; secret: string } | { ok: false; reason: 'malformed' | 'checksum' }

/** Parses a presented key; shape and checksum only, no lookup. */
export function parseKey(presented: string): ParsedKey {
  const m = KEY_PATTERN.exec(presented)
  if (!m) return { ok: false, reason: 'malformed' }
  const body = presented.slice(0, presented.length - CRC_LEN)
  if (checksum(body) !== m[3]) return { ok: false, reason: 'checksum' }
  return { ok: true, id: m[1]!, secret: m[2]! }
}

/** Cheap test used to route a bearer credential to the API key scheme. */
export const looksLikeKey = (credential: string) => credential.startsWith(KEY_PREFIX)

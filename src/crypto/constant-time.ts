import crypto from 'node:crypto'

/**
 * A per-process random key for the comparison MAC. Both sides are MACed under it before the
 * byte comparison, so the compared values always have the same length (32 bytes): unequal
 * lengths neither throw (`crypto.timingSafeEqual` does) nor return early (which would tell an
 * attacker the secret's length), and the time taken does not depend on where the inputs first
 * differ. A keyed MAC rather than a bare hash means an attacker cannot precompute inputs whose
 * digests share a prefix with the secret's.
 */
const KEY = crypto.randomBytes(32)
/**
 * UTF-8 maps every lone surrogate to U+FFFD, so `'\uD800'` and `'\uFFFD'` would encode to the
 * same bytes. Ill-formed strings are therefore MACed as their UTF-16 code units under a second
 * key: they equal only the identical string, never a well-formed string or a Buffer.
 */
const KEY_ILL_FORMED = crypto.randomBytes(32)

// With the `u` flag a surrogate range matches only unpaired (lone) surrogates.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u

const mac = (v: string | Buffer) =>
  typeof v === 'string' && LONE_SURROGATE.test(v)
    ? crypto.createHmac('sha256', KEY_ILL_FORMED).update(Buffer.from(v, 'utf16le')).digest()
    : crypto.createHmac('sha256', KEY).update(v).digest()

/**
 * Constant-time equality of two secrets (CSRF tokens, codes, hashes, MACs, signatures).
 * Well-formed strings are compared as their UTF-8 bytes (so
 * `safeEqual('é', Buffer.from('é'))` holds); for strings the result is exactly `a === b`. The one
 * helper for every secret comparison in
 * src/: do not compare secrets with `===` or call `crypto.timingSafeEqual` directly.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return crypto.timingSafeEqual(mac(a), mac(b))
}

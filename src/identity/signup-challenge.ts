import crypto from 'node:crypto'
import { safeEqual } from '../crypto/constant-time.ts'
import type { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'

/**
 * The hook against automated sign-ups (issue 14 §4). The registration page asks the challenge
 * for the hidden fields and scripts its form needs, and the form post is refused unless
 * `verify` accepts what came back. A deployment plugs in its own (a CAPTCHA widget and its
 * site-verify call) by passing another `SignupChallenge` to the registration router.
 */
export interface SignupChallenge {
  /** a name for logs and the audit record */
  name: string
  /** hidden form fields and the scripts the page loads to answer the challenge */
  issue(): { fields: Record<string, string>; scripts: string[] }
  /** true when the form's answer is good (used up: a second post with it is refused) */
  verify(form: Record<string, string | undefined>, meta: { ip: string }): Promise<boolean>
}

/** No challenge (REGISTRATION_POW_BITS=0): rate limits are the only defence. */
export const noChallenge: SignupChallenge = {
  name: 'none',
  issue: () => ({ fields: {}, scripts: [] }),
  verify: async () => true,
}

/** Leading zero bits of a digest. */
export function leadingZeroBits(digest: Buffer): number {
  let bits = 0
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8
      continue
    }
    return bits + Math.clz32(byte) - 24
  }
  return bits
}

/** What a browser (assets/pow.js) or a test computes: a nonce whose hash has `bits` leading zeros. */
export function solveProofOfWork(challenge: string, bits: number): string {
  for (let n = 0; ; n++) {
    if (leadingZeroBits(crypto.createHash('sha256').update(`${challenge}:${n}`).digest()) >= bits) return String(n)
  }
}

const CHALLENGE = /^v1\.(\d{10,13})\.(\d{1,2})\.([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/

/**
 * Built-in proof of work (hashcash-style): the page carries a challenge the server signed
 * (HMAC, so it needs no storage until it is used): `v1.<expiry ms>.<bits>.<random>.<mac>`. The
 * browser finds a nonce such that SHA-256(`challenge:nonce`) starts with `bits` zero bits (about
 * 2^bits hashes: 16 bits is a fraction of a second in a browser, costly at bot scale) and posts
 * it as `pow_nonce`. The server checks the signature, the expiry (10 minutes), the work, and
 * that the challenge was not used before (a one-point rate limiter per challenge, in Redis when
 * configured, so every instance sees the use).
 */
export function proofOfWork(o: {
  key: Buffer
  bits: number
  ttlSeconds?: number
  redis?: Redis
  redisPrefix: string
}): SignupChallenge {
  const ttl = o.ttlSeconds ?? 600
  const base = { points: 1, duration: Math.max(1, ttl), keyPrefix: `${o.redisPrefix}signup:pow` }
  const used: RateLimiterAbstract = o.redis
    ? new RateLimiterRedis({ ...base, storeClient: o.redis })
    : new RateLimiterMemory(base)
  const mac = (body: string) => crypto.createHmac('sha256', o.key).update(`signup-pow:${body}`).digest('base64url')
  return {
    name: 'proof_of_work',
    issue() {
      const body = `v1.${Date.now() + ttl * 1000}.${o.bits}.${crypto.randomBytes(16).toString('base64url')}`
      return {
        fields: { pow_challenge: `${body}.${mac(body)}`, pow_bits: String(o.bits) },
        scripts: ['/assets/pow.js'],
      }
    },
    async verify(form) {
      const challenge = form.pow_challenge ?? ''
      const nonce = form.pow_nonce ?? ''
      const m = CHALLENGE.exec(challenge)
      if (!m || !/^\d{1,12}$/.test(nonce)) return false
      const body = challenge.slice(0, challenge.lastIndexOf('.'))
      if (!safeEqual(mac(body), m[4]!)) return false
      if (Number(m[1]) < Date.now() || Number(m[2]) < o.bits) return false
      if (leadingZeroBits(crypto.createHash('sha256').update(`${challenge}:${nonce}`).digest()) < Number(m[2]))
        return false
      try {
        await used.consume(m[3]!)
        return true
      } catch (e) {
        if (e instanceof RateLimiterRes) return false
        throw e
      }
    },
  }
}

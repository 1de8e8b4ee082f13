import crypto from 'node:crypto'
import { promisify } from 'node:util'
import { verify as argon2Verify } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import { safeEqual } from '../crypto/constant-time.ts'

/**
 * Password hashes written by other systems, accepted on import so users can move in without a
 * password reset (issue 14 §8). Each format is recognised up front by its prefix, parsed by one
 * small function into its parameters, checked against work limits (an imported hash is input
 * from outside: a hostile file must not be able to make one sign-in burn minutes of CPU or
 * gigabytes of memory), and verified with node:crypto, bcryptjs or @node-rs/argon2. A hash that
 * is not ours (argon2id with ARGON2_PARAMS) is replaced at the next successful sign-in.
 *
 * parsePasswordHash never throws, whatever the string (tested with fast-check).
 */

export const HASH_LIMITS = {
  pbkdf2MaxIterations: 10_000_000,
  bcryptMaxCost: 14,
  scryptMaxN: 2 ** 20,
  /** scrypt's memory is 128·N·r bytes; argon2's is m KiB. */
  maxMemoryBytes: 256 * 1024 * 1024,
  scryptMaxP: 16,
  argon2MaxTime: 32,
  argon2MaxParallelism: 16,
} as const

export const ACCEPTED_FORMATS = [
  'argon2 PHC ($argon2id$v=19$m=..,t=..,p=..$salt$hash; argon2i, argon2d, v=16 too)',
  'bcrypt ($2a$, $2b$, $2y$)',
  'PBKDF2 PHC/passlib ($pbkdf2-sha256$100000$salt$hash or $pbkdf2-sha256$i=100000$salt$hash; sha1, sha256, sha512)',
  'Django (pbkdf2_sha256$100000$salt$hash, pbkdf2_sha1, argon2$..., bcrypt$..., bcrypt_sha256$...)',
  'Werkzeug (pbkdf2:sha256:600000$salt$hash, scrypt:32768:8:1$salt$hash)',
  'scrypt PHC/passlib ($scrypt$ln=16,r=8,p=1$salt$hash)',
].join('; ')

export interface ImportedHash {
  /** Stable name of the format, for the audit record (never the hash itself). */
  format: string
  verify(password: string): Promise<boolean>
}

export type ParseResult =
  | { ok: true; hash: ImportedHash }
  | { ok: false; reason: 'unknown_format' | 'malformed' | 'over_limit'; message: string }

type Parsed = ImportedHash | { reason: 'malformed' | 'over_limit'; message: string }

const malformed = (message: string): Parsed => ({ reason: 'malformed', message })
const overLimit = (message: string): Parsed => ({ reason: 'over_limit', message })

/** Decimal integer without sign, leading zeros or exponent; NaN otherwise. */
function int(s: string | undefined): number {
  return s !== undefined && /^(0|[1-9]\d{0,15})$/.test(s) ? Number(s) : NaN
}

/**
 * Standard, URL-safe and passlib's "ab64" (`.` for `+`) base64, padded or not. Returns undefined
 * for anything else, so a typo is a malformed hash rather than silently different bytes.
 */
function b64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/._-]*={0,2}$/.test(s)) return undefined
  const body = s.replace(/=+$/, '')
  if (body.length % 4 === 1) return undefined
  return Buffer.from(body.replace(/[.-]/g, '+').replace(/_/g, '/'), 'base64')
}

const DIGESTS: Record<string, string> = { sha1: 'sha1', sha256: 'sha256', sha512: 'sha512' }

const pbkdf2 = promisify(crypto.pbkdf2)
const scrypt = promisify(crypto.scrypt) as (
  pw: crypto.BinaryLike,
  salt: crypto.BinaryLike,
  len: number,
  o: crypto.ScryptOptions,
) => Promise<Buffer>

function pbkdf2Hash(
  format: string,
  digest: string | undefined,
  iterations: number,
  salt: Buffer,
  expected: Buffer | undefined,
): Parsed {
  if (!digest) return malformed('unsupported PBKDF2 digest (sha1, sha256 or sha512)')
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    return malformed('the iteration count is not a positive integer')
  if (iterations > HASH_LIMITS.pbkdf2MaxIterations)
    return overLimit(`PBKDF2 iterations above ${HASH_LIMITS.pbkdf2MaxIterations}`)
  if (!expected || expected.length < 16 || expected.length > 256)
    return malformed('the hash is not 16-256 bytes of base64/hex')
  return {
    format,
    verify: async (password) => safeEqual(await pbkdf2(password, salt, iterations, expected.length, digest), expected),
  }
}

function scryptHash(
  format: string,
  n: number,
  r: number,
  p: number,
  salt: Buffer,
  expected: Buffer | undefined,
): Parsed {
  if (![n, r, p].every((v) => Number.isSafeInteger(v) && v >= 1) || n < 2 || (n & (n - 1)) !== 0)
    return malformed('scrypt needs N a power of two above 1, and r, p positive integers')
  if (n > HASH_LIMITS.scryptMaxN) return overLimit(`scrypt N above 2^20`)
  if (p > HASH_LIMITS.scryptMaxP) return overLimit(`scrypt p above ${HASH_LIMITS.scryptMaxP}`)
  const memory = 128 * n * r
  if (memory > HASH_LIMITS.maxMemoryBytes)
    return overLimit(`scrypt memory (128·N·r = ${memory} bytes) above ${HASH_LIMITS.maxMemoryBytes}`)
  if (!expected || expected.length < 16 || expected.length > 256)
    return malformed('the hash is not 16-256 bytes of base64/hex')
  return {
    format,
    verify: async (password) =>
      safeEqual(await scrypt(password, salt, expected.length, { N: n, r, p, maxmem: memory + 1024 * 1024 }), expected),
  }
}

const BCRYPT = /^\$2([aby])\$(\d\d)\$[./A-Za-z0-9]{53}$/

function bcryptHash(format: string, value: string, prehash?: (pw: string) => string): Parsed {
  const m = BCRYPT.exec(value)
  if (!m) return malformed('a bcrypt hash is $2a$/$2b$/$2y$, a two-digit cost, and 53 characters of bcrypt base64')
  const cost = Number(m[2])
  if (cost < 4 || cost > 31) return malformed('bcrypt cost must be 04-31')
  if (cost > HASH_LIMITS.bcryptMaxCost) return overLimit(`bcrypt cost above ${HASH_LIMITS.bcryptMaxCost}`)
  return { format, verify: (password) => bcrypt.compare(prehash ? prehash(password) : password, value) }
}

// $argon2id$v=19$m=19456,t=2,p=1$salt$hash — `v=` is absent in hashes from before version 1.3.
const ARGON2 =
  /^\$argon2(id|i|d)\$(?:v=(16|19)\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{16,})$/

export function parseArgon2(
  value: string,
): { type: string; version: number; m: number; t: number; p: number } | undefined {
  const m = ARGON2.exec(value)
  if (!m) return undefined
  return { type: m[1]!, version: m[2] ? Number(m[2]) : 16, m: Number(m[3]), t: Number(m[4]), p: Number(m[5]) }
}

function argon2Hash(format: string, value: string): Parsed {
  const a = parseArgon2(value)
  if (!a) return malformed('an argon2 hash is $argon2id$v=19$m=..,t=..,p=..$salt$hash (unpadded base64)')
  if (a.m * 1024 > HASH_LIMITS.maxMemoryBytes)
    return overLimit(`argon2 memory above ${HASH_LIMITS.maxMemoryBytes / 1024} KiB`)
  if (a.t > HASH_LIMITS.argon2MaxTime) return overLimit(`argon2 t above ${HASH_LIMITS.argon2MaxTime}`)
  if (a.p > HASH_LIMITS.argon2MaxParallelism) return overLimit(`argon2 p above ${HASH_LIMITS.argon2MaxParallelism}`)
  if (a.m < 8 * a.p || a.t < 1 || a.p < 1) return malformed('argon2 needs t ≥ 1, p ≥ 1 and m ≥ 8·p')
  return {
    format,
    verify: async (password) => {
      try {
        return await argon2Verify(value, password)
      } catch {
        return false
      }
    },
  }
}

/** `$pbkdf2-sha256$29000$salt$hash` (passlib, ab64) or `$pbkdf2-sha256$i=100000$salt$hash` (PHC). */
function phcPbkdf2(value: string): Parsed {
  const m = /^\$pbkdf2(?:-(\w+))?\$(?:i=)?([^$]*)\$([^$]*)\$([^$]*)$/.exec(value)
  if (!m) return malformed('expected $pbkdf2-<digest>$<iterations>$<salt>$<hash>')
  const salt = b64(m[3]!)
  if (!salt || salt.length < 1) return malformed('the salt is not base64')
  const digest = m[1] ?? 'sha1' // passlib's plain "$pbkdf2$" is PBKDF2-HMAC-SHA1
  return pbkdf2Hash(`pbkdf2-${digest}`, DIGESTS[digest], int(m[2]), salt, b64(m[4]!))
}

/** `$scrypt$ln=16,r=8,p=1$salt$hash` (passlib, PHC). */
function phcScrypt(value: string): Parsed {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,4}),p=(\d{1,4})\$([^$]*)\$([^$]*)$/.exec(value)
  if (!m) return malformed('expected $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>')
  const salt = b64(m[4]!)
  if (!salt) return malformed('the salt is not base64')
  const ln = int(m[1])
  return scryptHash('scrypt', ln <= 52 ? 2 ** ln : NaN, int(m[2]), int(m[3]), salt, b64(m[5]!))
}

/**
 * Django: `<algorithm>$...`. The PBKDF2 and scrypt salts are used as text (UTF-8), not decoded;
 * the hash is standard padded base64 (django/contrib/auth/hashers.py).
 */
function django(value: string): Parsed {
  const [algorithm, ...rest] = value.split('$')
  switch (algorithm) {
    case 'pbkdf2_sha256':
    case 'pbkdf2_sha1': {
      const [iterations, salt, hash] = rest
      if (rest.length !== 3 || !salt) return malformed(`expected ${algorithm}$<iterations>$<salt>$<base64 hash>`)
      return pbkdf2Hash(
        `django-${algorithm}`,
        DIGESTS[algorithm.slice(7)],
        int(iterations),
        Buffer.from(salt, 'utf8'),
        b64(hash!),
      )
    }
    case 'scrypt': {
      // scrypt$<N>$<salt>$<r>$<p>$<base64 hash>, dklen 64
      const [n, salt, r, p, hash] = rest
      if (rest.length !== 5 || !salt) return malformed('expected scrypt$<N>$<salt>$<r>$<p>$<base64 hash>')
      return scryptHash('django-scrypt', int(n), int(r), int(p), Buffer.from(salt, 'utf8'), b64(hash!))
    }
    case 'argon2':
      return argon2Hash('django-argon2', value.slice('argon2'.length))
    case 'bcrypt':
      return bcryptHash('django-bcrypt', value.slice('bcrypt$'.length))
    case 'bcrypt_sha256':
      // Django hashes the password with SHA-256 (hex) first, so bcrypt sees all of a long one.
      return bcryptHash('django-bcrypt_sha256', value.slice('bcrypt_sha256$'.length), (pw) =>
        crypto.createHash('sha256').update(pw).digest('hex'),
      )
    default:
      return malformed('unknown Django algorithm')
  }
}

/**
 * Werkzeug: `pbkdf2:<digest>:<iterations>$salt$hexhash` or `scrypt:<N>:<r>:<p>$salt$hexhash`
 * (werkzeug/security.py). The salt is text; the hash is hex. The iteration count is required:
 * Werkzeug's default when it is absent changed between versions, so it cannot be guessed.
 */
function werkzeug(value: string): Parsed {
  const parts = value.split('$')
  if (parts.length !== 3 || !parts[1]) return malformed('expected <method>$<salt>$<hex hash>')
  const [method, salt, hexHash] = parts as [string, string, string]
  const hash = /^(?:[0-9a-f]{2})+$/.test(hexHash) ? Buffer.from(hexHash, 'hex') : undefined
  const args = method.split(':')
  if (args[0] === 'pbkdf2') {
    if (args.length !== 3) return malformed('expected pbkdf2:<digest>:<iterations> (the iteration count is required)')
    return pbkdf2Hash(`werkzeug-pbkdf2-${args[1]}`, DIGESTS[args[1]!], int(args[2]), Buffer.from(salt, 'utf8'), hash)
  }
  if (args.length !== 4) return malformed('expected scrypt:<N>:<r>:<p>')
  return scryptHash('werkzeug-scrypt', int(args[1]), int(args[2]), int(args[3]), Buffer.from(salt, 'utf8'), hash)
}

/** Formats recognised by their prefix; the first match decides, so parsing is unambiguous. */
const FORMATS: [RegExp, (value: string) => Parsed][] = [
  [/^\$argon2(id|i|d)\$/, (v) => argon2Hash('argon2', v)],
  [/^\$2[aby]\$/, (v) => bcryptHash('bcrypt', v)],
  [/^\$pbkdf2(-\w+)?\$/, phcPbkdf2],
  [/^\$scrypt\$/, phcScrypt],
  [/^(pbkdf2_sha256|pbkdf2_sha1|scrypt|argon2|bcrypt|bcrypt_sha256)\$/, django],
  [/^(pbkdf2|scrypt):/, werkzeug],
]

const MAX_LENGTH = 1024

export function parsePasswordHash(value: string): ParseResult {
  if (typeof value !== 'string' || value.length > MAX_LENGTH)
    return {
      ok: false,
      reason: 'unknown_format',
      message: `not a password hash in a known format (${ACCEPTED_FORMATS})`,
    }
  const entry = FORMATS.find(([prefix]) => prefix.test(value))
  if (!entry)
    return {
      ok: false,
      reason: 'unknown_format',
      message: `not a password hash in a known format (${ACCEPTED_FORMATS})`,
    }
  let parsed: Parsed
  try {
    parsed = entry[1](value)
  } catch {
    parsed = malformed('not parseable')
  }
  if ('verify' in parsed) return { ok: true, hash: parsed }
  return { ok: false, reason: parsed.reason, message: parsed.message }
}

import crypto from 'node:crypto'
import { escapeUnstorable } from '../storable-text.ts'

/**
 * The canonical form of an audit record and its hash.
 *
 * Canonical JSON follows RFC 8785 (JCS) for the values we store: object keys sorted by UTF-16
 * code units, no insignificant whitespace, strings and numbers as ECMAScript JSON.stringify
 * writes them (which is what JCS specifies). `undefined` members are dropped, like JSON.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null'
    if (typeof value === 'bigint') return JSON.stringify(value.toString())
    return JSON.stringify(value) ?? 'null'
  }
  if (value instanceof Date) return JSON.stringify(value.toISOString())
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
}

/** prevHash of the very first record: the chain starts from 32 zero bytes. */
export const GENESIS_HASH = '0'.repeat(64)

/** What a record's hash covers: every column except the hash itself (version 1 of the form). */
export interface ChainedFields {
  seq: number
  time: Date
  actor: string | null
  action: string
  target: string | null
  outcome: string
  ip: string | null
  userAgent: string | null
  requestId: string | null
  /** the stored details JSON text (itself canonical JSON) */
  details: string
  prevHash: string
}

export function canonicalRecord(r: ChainedFields): string {
  return canonicalJson({
    v: 1,
    seq: r.seq,
    time: r.time.toISOString(),
    actor: r.actor,
    action: r.action,
    target: r.target,
    outcome: r.outcome,
    ip: r.ip,
    userAgent: r.userAgent,
    requestId: r.requestId,
    details: r.details,
    prevHash: r.prevHash,
  })
}

export const sha256 = (text: string) => crypto.createHash('sha256').update(text, 'utf8').digest('hex')

/** SHA-256 (hex) of the record's canonical form; prevHash is part of it, which makes the chain. */
export const recordHash = (r: ChainedFields) => sha256(canonicalRecord(r))

// Keys whose values are never written to the log, whatever a caller passes in `details`.
const SECRET_KEY =
  /pass(word|phrase)?$|secret|^(access_|refresh_|id_)?token$|authorization|cookie|^otp$|^code$|recovery_?code|private_?key|^api_?key$|credential/i
const MAX_STRING = 2048

/** details as stored: secrets redacted, long strings cut, canonical JSON. */
export function sanitizeDetails(details: Record<string, unknown> | undefined): string {
  const clean = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v
    if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? v.toString() : v
    if (v instanceof Date) return v.toISOString()
    if (depth > 6) return '[nested too deeply]'
    if (Array.isArray(v)) return v.slice(0, 200).map((x) => clean(x, depth + 1))
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [
        k,
        SECRET_KEY.test(k) ? '[redacted]' : clean(x, depth + 1),
      ]),
    )
  }
  return canonicalJson(clean(details ?? {}, 0))
}

/**
 * A column value: null for absent, long values cut (a user agent can be kilobytes), and NUL
 * and lone surrogates (which PostgreSQL refuses or the driver silently replaces, so the
 * stored text would not match its hash) written as `\uXXXX` escapes. The hash covers the
 * escaped text, so the chain verifies.
 */
export const column = (v: string | null | undefined, max = 512) =>
  v == null || v === '' ? null : escapeUnstorable(v.length > max ? v.slice(0, max) : v)

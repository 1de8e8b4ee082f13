import { randomUUID } from 'node:crypto'
import * as jose from 'jose'
import type { KeyStore } from '../oidc/keys.ts'
import type { SetRow, SsfQueries } from './queries.ts'

/**
 * Security Event Tokens (RFC 8417). A SET is queued as its claims (JSON text) inside the
 * transaction of the change it reports (fanout.ts), where no signing key can be read without
 * stepping out of that transaction; it is signed once, at its first delivery, and the signed
 * form replaces the claims in the queue, so every later delivery of it is the same token.
 */
export function setClaims(
  issuer: string,
  aud: string,
  streamId: string,
  sub_id: Record<string, unknown>,
  events: Record<string, unknown>,
): SetRow {
  const jti = randomUUID()
  // RFC 8417 §2.2: iss, iat, jti, aud; no `exp`. SSF 1.0 §4: the subject is in `sub_id`.
  const claims = { iss: issuer, aud, iat: Math.floor(Date.now() / 1000), jti, sub_id, events }
  return { streamId, jti, set: JSON.stringify(claims) }
}

const isClaims = (set: string) => set.startsWith('{')

/** The event types a queued SET carries (signed or not). */
export function eventTypes(set: string): string[] {
  try {
    const claims = (isClaims(set) ? JSON.parse(set) : jose.decodeJwt(set)) as { events?: Record<string, unknown> }
    return Object.keys(claims.events ?? {})
  } catch {
    return []
  }
}

export function setSigner(keys: KeyStore, q: SsfQueries) {
  async function sign(claims: string) {
    const { keys: jwks } = await keys.privateJwks()
    const jwk = jwks.find((k) => k.alg === 'RS256') ?? jwks[0]
    if (!jwk?.kid || !jwk.alg) throw new Error('no signing key for Security Event Tokens')
    // RFC 8417 §2.3: `typ: secevent+jwt` keeps a SET from passing as an ID token.
    return new jose.SignJWT(JSON.parse(claims) as jose.JWTPayload)
      .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'secevent+jwt' })
      .sign(await jose.importJWK(jwk, jwk.alg))
  }
  /** The signed SET of a queued row (signing it now if it is not yet); undefined if it is gone. */
  return async function signed(row: { id: number; set: string }): Promise<string | undefined> {
    if (!isClaims(row.set)) return row.set
    const jws = await sign(row.set)
    if (await q.signed(row.id, row.set, jws)) return jws
    // another instance signed (or acknowledged) it first: its token is the one
    return q.setOf(row.id)
  }
}
export type SetSigner = ReturnType<typeof setSigner>

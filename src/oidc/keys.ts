import * as jose from 'jose'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { KeyQueries, KeyRow } from './queries/keys.ts'
import type { Audited } from '../db/audited.ts'

/**
 * Token signing keys: one RS256, one ES256 and one EdDSA (Ed25519) key per generation, and one
 * RSA-OAEP-256 encryption key (`use: enc`) that clients encrypt request objects to (RFC 9101
 * §6.1). Private JWKs are sealed with the master key; `kid` is the RFC 7638 thumbprint.
 *
 * Rotation adds a new generation and makes it the signer; the previous one stays in the JWKS
 * (`retiring`) until everything it signed has expired, then it is retired and unpublished. A
 * retiring encryption key still decrypts what a client encrypted to it with a cached JWKS.
 */
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const
/** The algorithm of our encryption key (JWE key management, RFC 7518 §4.3) */
export const ENCRYPTION_ALG = 'RSA-OAEP-256'
const GENERATION = [...SIGNING_ALGS, ENCRYPTION_ALG] as const

async function generate(alg: (typeof GENERATION)[number]) {
  const { privateKey } = await jose.generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' || alg === ENCRYPTION_ALG ? { modulusLength: 2048 } : {}),
  })
  const jwk = await jose.exportJWK(privateKey)
  const kid = await jose.calculateJwkThumbprint(jwk)
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk
  const use = alg === ENCRYPTION_ALG ? 'enc' : 'sig'
  return { kid, alg, privateJwk: { ...jwk, kid, alg, use }, publicJwk: { ...publicJwk, kid, alg, use } }
}

const context = (kid: string) => `signing-key:${kid}`

export function keyStore(q: KeyQueries, ring: Keyring) {
  async function newGeneration(now: Date, algs: readonly (typeof GENERATION)[number][] = GENERATION) {
    const keys = await Promise.all(algs.map(generate))
    return keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      publicJwk: JSON.stringify(k.publicJwk),
      privateJwk: seal(ring, JSON.stringify(k.privateJwk), context(k.kid)),
      status: 'active',
      activatedAt: now,
    }))
  }

  return {
    /** Private JWKS for oidc-provider, signer first. */
    async privateJwks(): Promise<{ keys: jose.JWK[] }> {
      const rows = await q.listPublished()
      return { keys: rows.map((r) => JSON.parse(open(ring, r.privateJwk, context(r.kid))) as jose.JWK) }
    },
    /** Public JWKs of the published keys (what /jwks serves). */
    async publicJwks(): Promise<jose.JWK[]> {
      return (await q.listPublished()).map((r) => JSON.parse(r.publicJwk) as jose.JWK)
    },
    /** Changes whenever the published set changes; instances compare it to reload. */
    async fingerprint(): Promise<string> {
      return (await q.listPublished()).map((r) => `${r.kid}:${r.status}`).join(',')
    },
    async list(): Promise<Omit<KeyRow, 'privateJwk'>[]> {
      return (await q.listAll()).map(({ privateJwk: _secret, ...rest }) => rest)
    },
    /**
     * First start: create the first generation if there is none. A generation from before
     * encrypted request objects gets its encryption key added (the signers stay).
     */
    async ensure(now = new Date()) {
      const active = (await q.listPublished()).filter((k) => k.status === 'active')
      if (active.some((k) => k.alg === ENCRYPTION_ALG)) return false
      if (active.length) await q.add(await newGeneration(now, [ENCRYPTION_ALG]))
      else await q.rotate(await newGeneration(now), now, now)
      return true
    },
    /**
     * @param maxTokenLifetime seconds the old keys must stay published: the longest lifetime of
     *   a JWT they may have signed (access tokens, ID tokens).
     */
    async rotate(
      maxTokenLifetime: number,
      now = new Date(),
      audit?: (added: { kid: string; alg: string }[]) => Audited<number>,
    ) {
      const fresh = await newGeneration(now)
      const added = fresh.map((k) => ({ kid: k.kid, alg: k.alg }))
      // the new generation, the keys retired now and the audit record commit together
      const retired = await q.rotate(fresh, new Date(now.getTime() + maxTokenLifetime * 1000), now, audit?.(added))
      return { added, retired }
    },
    retireDue: (now = new Date()) => q.retireDue(now),
    /** Unpublishes a `retiring` key now: tokens it signed stop verifying (false if it is not retiring). */
    retire: (kid: string, now = new Date(), audit?: Audited<boolean>) => q.retire(kid, now, audit),
  }
}
export type KeyStore = ReturnType<typeof keyStore>

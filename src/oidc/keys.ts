import * as jose from 'jose'
import { open, seal, type Keyring } from '../crypto/envelope.ts'
import type { KeyQueries, KeyRow } from './queries/keys.ts'
import type { Audited } from '../db/audited.ts'

/**
 * Token signing keys: one RS256, one ES256 and one EdDSA (Ed25519) key per generation. Private
 * JWKs are sealed with the master key; `kid` is the RFC 7638 thumbprint.
 *
 * Rotation adds a new generation and makes it the signer; the previous one stays in the JWKS
 * (`retiring`) until everything it signed has expired, then it is retired and unpublished.
 */
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const

async function generate(alg: (typeof SIGNING_ALGS)[number]) {
  const { privateKey } = await jose.generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  })
  const jwk = await jose.exportJWK(privateKey)
  const kid = await jose.calculateJwkThumbprint(jwk)
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk
  return { kid, alg, privateJwk: { ...jwk, kid, alg, use: 'sig' }, publicJwk: { ...publicJwk, kid, alg, use: 'sig' } }
}

const context = (kid: string) => `signing-key:${kid}`

export function keyStore(q: KeyQueries, ring: Keyring) {
  async function newGeneration(now: Date) {
    const keys = await Promise.all(SIGNING_ALGS.map(generate))
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
    /** First start: create the first generation if there is none. */
    async ensure(now = new Date()) {
      if ((await q.listPublished()).some((k) => k.status === 'active')) return false
      await q.rotate(await newGeneration(now), now, now)
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

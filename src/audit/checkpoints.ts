import * as jose from 'jose'
import type { KeyStore } from '../oidc/keys.ts'
import type { AuditQueries, CheckpointRow } from './queries.ts'

/**
 * Signed checkpoints: "the audit chain had hash H at seq N", a compact JWS (RFC 7515) signed by
 * the server's active EdDSA (else ES256) signing key, with its kid in the protected header.
 * Signing keys rotate, so verification looks the kid up among every key the server ever had
 * (the SigningKey table keeps the public JWK of retired keys), not only the published JWKS.
 *
 * A checkpoint of kind `prune` anchors retention: it signs the last deleted record, whose hash
 * is the prevHash of the first record kept.
 */
export const CHECKPOINT_TYP = 'portcullis-audit-checkpoint+jws'
export type CheckpointKind = 'periodic' | 'manual' | 'prune'

export interface CheckpointClaims {
  iss: string
  iat: number
  seq: number
  hash: string
  kind: CheckpointKind
}

export interface VerifiedCheckpoint extends CheckpointClaims {
  id: number
  kid: string
}

export function checkpointSigner(deps: { keys: KeyStore; issuer: string }) {
  async function signingKey() {
    const { keys } = await deps.keys.privateJwks()
    // privateJwks lists active keys first; prefer the compact, fast EdDSA key.
    const jwk = keys.find((k) => k.alg === 'EdDSA') ?? keys.find((k) => k.alg === 'ES256')
    if (!jwk?.kid || !jwk.alg) throw new Error('no EdDSA or ES256 signing key to sign audit checkpoints with')
    return { jwk, kid: jwk.kid, alg: jwk.alg }
  }

  return {
    async sign(seq: number, hash: string, kind: CheckpointKind): Promise<Omit<CheckpointRow, 'id' | 'createdAt'>> {
      const { jwk, kid, alg } = await signingKey()
      const claims: CheckpointClaims = { iss: deps.issuer, iat: Math.floor(Date.now() / 1000), seq, hash, kind }
      const jws = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
        .setProtectedHeader({ alg, kid, typ: CHECKPOINT_TYP })
        .sign(await jose.importJWK(jwk, alg))
      return { seq, hash, kind, kid, jws }
    },

    /**
     * Verifies a stored checkpoint against the public keys of every signing key (any status).
     * Returns the signed claims, or a reason it cannot be trusted. The claims, not the
     * convenience columns next to the JWS, are what verification relies on.
     */
    async verify(
      row: CheckpointRow,
      publicKeys?: Map<string, jose.JWK>,
    ): Promise<VerifiedCheckpoint | { id: number; error: string }> {
      const keys = publicKeys ?? (await publicKeyMap(deps.keys))
      try {
        const header = jose.decodeProtectedHeader(row.jws)
        const jwk = header.kid ? keys.get(header.kid) : undefined
        if (!jwk) return { id: row.id, error: `signed by unknown key ${header.kid ?? '(no kid)'}` }
        if (header.typ !== CHECKPOINT_TYP) return { id: row.id, error: 'not an audit checkpoint' }
        const { payload } = await jose.compactVerify(row.jws, await jose.importJWK(jwk, jwk.alg), {
          algorithms: ['EdDSA', 'ES256'],
        })
        const claims = JSON.parse(new TextDecoder().decode(payload)) as CheckpointClaims
        if (!Number.isInteger(claims.seq) || typeof claims.hash !== 'string')
          return { id: row.id, error: 'malformed checkpoint claims' }
        return { ...claims, id: row.id, kid: header.kid! }
      } catch (err) {
        return { id: row.id, error: `signature does not verify (${(err as Error).message})` }
      }
    },
  }
}
export type CheckpointSigner = ReturnType<typeof checkpointSigner>

export async function publicKeyMap(keys: KeyStore) {
  return new Map((await keys.list()).map((k) => [k.kid, JSON.parse(k.publicJwk) as jose.JWK]))
}

/** Takes a checkpoint of the current tail (nothing to do on an empty log). */
export async function takeCheckpoint(q: AuditQueries, signer: CheckpointSigner, kind: CheckpointKind) {
  const tail = await q.tail()
  if (!tail?.hash) return undefined
  const row = await q.checkpoints.add(await signer.sign(tail.seq, tail.hash, kind))
  return row
}

/**
 * Periodic checkpoints: every `intervalSeconds`, unless nothing was appended since the newest
 * checkpoint (many instances share one chain; a checkpoint of an unchanged tail adds nothing).
 */
export function checkpointTimer(
  q: AuditQueries,
  signer: CheckpointSigner,
  intervalSeconds: number,
  onError: (err: unknown) => void,
) {
  const tick = async () => {
    const [tail, newest] = await Promise.all([q.tail(), q.checkpoints.latest()])
    if (!tail?.hash || (newest && newest.seq >= tail.seq)) return
    await takeCheckpoint(q, signer, 'periodic')
  }
  const t = setInterval(() => void tick().catch(onError), intervalSeconds * 1000)
  t.unref()
  return () => clearInterval(t)
}

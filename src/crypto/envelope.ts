import crypto from 'node:crypto'

/**
 * Encryption at rest: AES-256-GCM under a keyring of master keys. Each ciphertext names the key
 * id it was sealed with, so a new master key can be added (first in the ring) while values
 * sealed under the old one still open. `context` is bound as additional authenticated data so a
 * ciphertext copied into another row or column fails to open.
 *
 * Format: `v1.<kid>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export interface Keyring {
  /** id of the key new values are sealed with */
  readonly currentId: string
  readonly keys: ReadonlyMap<string, Buffer>
}

export function keyId(key: Buffer) {
  return crypto.createHash('sha256').update(key).digest('hex').slice(0, 8)
}

export function seal(ring: Keyring, plaintext: string, context: string): string {
  const key = ring.keys.get(ring.currentId)!
  const iv = crypto.randomBytes(12)
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(context))
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
  return [
    'v1',
    ring.currentId,
    iv.toString('base64url'),
    cipher.getAuthTag().toString('base64url'),
    ct.toString('base64url'),
  ].join('.')
}

export function open(ring: Keyring, sealed: string, context: string): string {
  const [v, kid, iv, tag, ct] = sealed.split('.')
  if (v !== 'v1' || !kid || !iv || !tag || ct === undefined) throw new Error('not a sealed value')
  const key = ring.keys.get(kid)
  if (!key) throw new Error(`sealed with master key ${kid}, which is not in PORTCULLIS_MASTER_KEY`)
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'))
  decipher.setAAD(Buffer.from(context))
  decipher.setAuthTag(Buffer.from(tag, 'base64url'))
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8')
}

/** Derives a purpose-bound subkey (HKDF-SHA256) so one master key can serve several uses. */
export function deriveKey(key: Buffer, purpose: string, length = 32): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', key, Buffer.alloc(0), `portcullis:${purpose}`, length))
}

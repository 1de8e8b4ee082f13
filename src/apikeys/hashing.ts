import crypto from 'node:crypto'
import { deriveKey, type Keyring } from '../crypto/envelope.ts'
import { safeEqual } from '../crypto/constant-time.ts'

/**
 * Secrets are stored as HMAC-SHA256(pepper, secret). A fast keyed hash is right here: the
 * secret has 256 random bits, so there is nothing to brute-force, and the pepper (derived from
 * the master key, never stored in the database) means a database dump alone cannot even test a
 * guess. Each hash records which master key its pepper came from (`pepperKid`) so the master
 * key can rotate without invalidating keys.
 */
export function secretHasher(ring: Keyring) {
  const peppers = new Map([...ring.keys].map(([kid, key]) => [kid, deriveKey(key, 'apikeys:pepper')]))
  const mac = (pepper: Buffer, secret: string) => crypto.createHmac('sha256', pepper).update(secret).digest()
  const dummy = peppers.get(ring.currentId)!
  return {
    hash(secret: string) {
      return { hash: mac(peppers.get(ring.currentId)!, secret).toString('base64url'), pepperKid: ring.currentId }
    },
    /** Constant-time comparison of the stored hash with the presented secret's. */
    verify(secret: string, stored: string, pepperKid: string): boolean {
      const pepper = peppers.get(pepperKid)
      const actual = mac(pepper ?? dummy, secret)
      return safeEqual(actual, Buffer.from(stored, 'base64url')) && pepper !== undefined
    },
    /** Same work as a real comparison, for unknown key ids (uniform timing). */
    burn(secret: string) {
      safeEqual(mac(dummy, secret), mac(dummy, ''))
    },
  }
}
export type SecretHasher = ReturnType<typeof secretHasher>

import crypto from 'node:crypto'
import type Provider from 'oidc-provider'
import { verifyPassword } from '../identity/passwords.ts'

/**
 * Client secrets are stored as argon2id hashes, so the `client_secret` oidc-provider sees in a
 * client's metadata is that hash. oidc-provider compares secrets through the public
 * `Client#compareClientSecret`; we replace it with an argon2 verification. Symmetric uses of
 * the secret (client_secret_jwt, HS* signing, symmetric encryption) are disabled in the
 * provider configuration, so the hash is never used as key material.
 *
 * Successful verifications are remembered for a few minutes (keyed by a SHA-256 of hash and
 * presented secret) so a busy client_credentials caller does not pay ~20 ms of argon2 per token.
 */
const TTL_MS = 5 * 60 * 1000
const MAX = 10_000

export function installHashedClientSecrets(provider: Provider) {
  const verified = new Map<string, number>()
  const Client = provider.Client as unknown as { prototype: { clientSecret?: string; compareClientSecret(actual: string): Promise<boolean> } }
  Client.prototype.compareClientSecret = async function compareClientSecret(this: { clientSecret?: string }, actual: string) {
    const stored = this.clientSecret
    if (!stored || typeof actual !== 'string' || !actual) return false
    const cacheKey = crypto.createHash('sha256').update(stored).update('\0').update(actual).digest('base64url')
    const until = verified.get(cacheKey)
    if (until && until > Date.now()) return true
    const ok = await verifyPassword(stored, actual)
    if (ok) {
      if (verified.size >= MAX) verified.clear()
      verified.set(cacheKey, Date.now() + TTL_MS)
    }
    return ok
  }
}

import crypto from 'node:crypto'
import type Provider from 'oidc-provider'
import { hashPassword, verifyPassword } from '../identity/passwords.ts'
import type { ClientQueries } from './queries/clients.ts'
import type { Audited } from '../db/audited.ts'

export type ClientMetadata = Record<string, unknown> & { client_id: string; client_secret?: string }

/** OAuth clients: registration with hashed secrets, validated by oidc-provider's own schema. */
export function clientService(q: ClientQueries, provider: () => Provider, knownScopes: () => string[]) {
  return {
    find: q.find,
    list: q.list,

    /**
     * Validates metadata exactly as oidc-provider would on use; returns a list of problems
     * (empty when valid). The secret is replaced by a placeholder: its value is never a key.
     */
    async validate(metadata: ClientMetadata, alsoKnownScopes: string[] = []): Promise<string[]> {
      const { client_secret: secret, scope, ...rest } = metadata
      // Scopes of resources registered in the same document are not known to the running
      // provider yet: check `scope` here, and the rest with oidc-provider's own rules.
      if (scope !== undefined && typeof scope !== 'string') return ['scope must be a space-separated string']
      const known = new Set([...knownScopes(), ...alsoKnownScopes])
      const unknown = (scope ?? '').split(' ').filter((s) => s && !known.has(s))
      if (unknown.length) return [`scope contains scopes no resource or OIDC defines: ${unknown.join(' ')}`]
      try {
        await provider().Client.validate({
          ...rest,
          ...(secret !== undefined ? { client_secret: 'x'.repeat(43) } : {}),
        } as never)
        return []
      } catch (e) {
        const err = e as { error_description?: string; message: string }
        return [err.error_description ?? err.message]
      }
    },

    /**
     * Creates or updates a client. A secret given in clear is stored as an argon2id hash.
     * Returns what changed, for the audit log: metadata before/after (never the secret; only
     * whether it changed), or `changed: false` for a no-op re-import.
     */
    async upsert(
      metadata: ClientMetadata,
      audit?: (change: ClientChange) => Audited<void> | undefined,
    ): Promise<ClientChange> {
      const { client_id: clientId, client_secret: secret, ...rest } = metadata
      const existing = await q.find(clientId)
      let secretHash: string | null | undefined
      if (secret !== undefined) {
        // Keep the stored hash when the secret did not change: re-imports stay no-ops.
        secretHash =
          existing?.secretHash && (await verifyPassword(existing.secretHash, secret))
            ? existing.secretHash
            : await hashPassword(secret)
      } else if (
        ['none', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'].includes(
          rest.token_endpoint_auth_method as string,
        )
      ) {
        secretHash = null
      }
      const before = existing?.metadata as Record<string, unknown> | undefined
      const secretChanged = secretHash !== undefined && secretHash !== (existing?.secretHash ?? null)
      const fields = [...new Set([...Object.keys(before ?? {}), ...Object.keys(rest)])].filter(
        (k) => JSON.stringify(before?.[k]) !== JSON.stringify(rest[k]),
      )
      const change: ClientChange = {
        clientId,
        created: !existing,
        changed: !existing || secretChanged || fields.length > 0,
        fields,
        before,
        after: rest,
        secretChanged,
      }
      // `audit`: the caller's record of this change, committed with it
      await q.upsert(clientId, rest, secretHash, audit?.(change))
      return change
    },

    /** A new random secret (256 bits), returned once; only its hash is kept. */
    async resetSecret(clientId: string, audit?: Audited<void>) {
      const existing = await q.find(clientId)
      if (!existing) return null
      const secret = crypto.randomBytes(32).toString('base64url')
      await q.upsert(clientId, existing.metadata, await hashPassword(secret), audit)
      return secret
    },
  }
}
export type ClientService = ReturnType<typeof clientService>

export interface ClientChange {
  clientId: string
  created: boolean
  changed: boolean
  /** metadata fields whose value changed */
  fields: string[]
  before?: Record<string, unknown>
  after: Record<string, unknown>
  secretChanged: boolean
}

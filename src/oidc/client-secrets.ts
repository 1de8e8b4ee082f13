import crypto from 'node:crypto'
import type Provider from 'oidc-provider'
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
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
  const Client = provider.Client as unknown as {
    prototype: { clientSecret?: string; compareClientSecret(actual: string): Promise<boolean> }
  }
  Client.prototype.compareClientSecret = async function compareClientSecret(
    this: { clientSecret?: string },
    actual: string,
  ) {
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

/** The endpoints where a client authenticates itself (oidc-provider route names). */
export const CLIENT_AUTH_ROUTES: ReadonlySet<string> = new Set([
  'token',
  'introspection',
  'revocation',
  'pushed_authorization_request',
  'device_authorization',
  'backchannel_authentication',
])

/** `invalid_client` (RFC 6749 §5.2) with a description the client's developer can act on. */
function invalidClient(description: string) {
  const err = new errors.CustomOIDCProviderError('invalid_client', description)
  Object.assign(err, { status: 401, statusCode: 401 })
  return err
}

/**
 * Client authentication follows the registered `token_endpoint_auth_method` exactly (RFC 7591
 * §2; OIDC Core §9). oidc-provider treats client_secret_basic and client_secret_post as one
 * method, so a client registered for Basic could also send its secret in the body (and the
 * other way round). It also lets public clients (`none`) call the introspection endpoint,
 * which RFC 7662 §2.1 reserves for authenticated callers.
 *
 * Every client-authenticating endpoint assigns the client through `OIDCContext#entity`
 * (shared/client_auth.js) after reading the credentials and before checking them, so the check
 * sits there, on every such endpoint at once, and its error is rendered as an OAuth error.
 */
export function installExactClientAuth(provider: Provider) {
  const proto = provider.OIDCContext.prototype as unknown as {
    entity(this: { ctx: KoaContextWithOIDC; route: string }, key: string, value: unknown): void
  }
  const assign = proto.entity
  proto.entity = function entity(key, value) {
    if (key === 'Client' && CLIENT_AUTH_ROUTES.has(this.route)) {
      const client = value as { clientAuthMethod: string }
      const problem = authMethodProblem(
        client.clientAuthMethod,
        {
          basic: this.ctx.headers.authorization !== undefined,
          post: Boolean(this.ctx.oidc.params?.client_secret),
        },
        this.route,
      )
      if (problem) throw invalidClient(problem)
    }
    assign.call(this, key, value)
  }
}

/** Why the credentials presented do not fit the client's registered method (undefined: they do). */
export function authMethodProblem(
  registered: string,
  presented: { basic: boolean; post: boolean },
  route: string,
): string | undefined {
  // RFC 7662 §2.1: "the caller MUST be authenticated"; a public client has no credentials.
  if (route === 'introspection' && registered === 'none')
    return 'public clients cannot use the introspection endpoint; it needs client authentication (RFC 7662 §2.1)'
  if (registered === 'client_secret_basic' && presented.post)
    return 'this client is registered for client_secret_basic: send its secret in the Authorization header, not in the request body'
  if (registered === 'client_secret_post' && presented.basic)
    return 'this client is registered for client_secret_post: send client_id and client_secret in the request body, not in the Authorization header'
  return undefined
}

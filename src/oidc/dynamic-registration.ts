import type Provider from 'oidc-provider'
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider'
import type { Config } from '../config/env.ts'

/**
 * Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), off unless
 * DYNAMIC_REGISTRATION says otherwise. A registered client is stored like an imported one (the
 * clients table, secret hashed: adapters.ts clientAdapter) and obeys the same rules on every
 * request: the scope ceiling (client-scopes.ts), PKCE, exact client authentication. On top of
 * that, what it may register is narrower than what an administrator may import (below).
 */

/** The oidc-provider routes where a client registers or changes its own metadata. */
const REGISTRATION_ROUTES: ReadonlySet<string> = new Set(['registration', 'client_update'])

/** Grant types a self-registered client may use: the user-facing ones only. */
const DCR_GRANT_TYPES: ReadonlySet<string> = new Set([
  'authorization_code',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:device_code',
])

/** Metadata only an administrator may set: each grants authority or lifts a safety rule. */
const ADMIN_ONLY: Record<string, (v: unknown) => boolean> = {
  // introspection of other clients' tokens (provider/features.ts introspection.allowedPolicy)
  resource_servers: (v) => v !== undefined,
  // users are not asked to consent
  skip_consent: (v) => v === true,
  // the code flow without PKCE (RFC 9700 §2.1.1)
  require_pkce: (v) => v === false,
}

export function isRegistrationRoute(ctx: KoaContextWithOIDC | undefined): boolean {
  return REGISTRATION_ROUTES.has(String(ctx?.oidc?.route))
}

/**
 * Why metadata a client registered for itself is refused (undefined: it is acceptable). The
 * scope must stay within DYNAMIC_REGISTRATION_SCOPES, so a registered client can never hold a
 * management scope (`admin`, `authz:*`, …) or an API's scope.
 */
export function dynamicRegistrationProblem(
  metadata: Record<string, unknown>,
  allowedScopes: readonly string[],
): string | undefined {
  const scope = metadata.scope
  if (scope !== undefined) {
    if (typeof scope !== 'string') return 'scope must be a space-separated string'
    const beyond = scope.split(' ').filter((s) => s && !allowedScopes.includes(s))
    if (beyond.length)
      return `scope contains scopes a self-registered client may not hold: ${beyond.join(' ')} (allowed: ${allowedScopes.join(' ')})`
  }
  const grants = Array.isArray(metadata.grant_types) ? metadata.grant_types.map(String) : []
  const refusedGrants = grants.filter((g) => !DCR_GRANT_TYPES.has(g))
  if (refusedGrants.length) return `grant_types not available to self-registered clients: ${refusedGrants.join(' ')}`
  for (const [key, refused] of Object.entries(ADMIN_ONLY)) {
    if (refused(metadata[key])) return `${key} can only be set by an administrator (import file or admin API)`
  }
  return undefined
}

/** The extraClientMetadata validator's part for registration requests (throws the RFC 7591 §3.2.2 error). */
export function assertDynamicRegistration(
  ctx: KoaContextWithOIDC | undefined,
  metadata: Record<string, unknown>,
  config: Readonly<Config>,
) {
  if (!isRegistrationRoute(ctx)) return
  const problem = dynamicRegistrationProblem(metadata, config.DYNAMIC_REGISTRATION_SCOPES)
  if (problem) throw new errors.InvalidClientMetadata(problem)
}

/** oidc-provider's `registration` and `registrationManagement` features for DYNAMIC_REGISTRATION. */
type Features = NonNullable<Configuration['features']>
export function registrationFeatures(
  config: Readonly<Config>,
): Pick<Features, 'registration' | 'registrationManagement'> {
  const mode = config.DYNAMIC_REGISTRATION
  if (mode === 'off') return { registration: { enabled: false }, registrationManagement: { enabled: false } }
  return {
    registration: {
      enabled: true,
      // RFC 7591 §3: initial access tokens stored by the adapter, issued by `portcullis
      // clients create-iat`; a missing or wrong one is a 401 invalid_token (RFC 6750 §3.1).
      initialAccessToken: mode === 'initial-access-token',
      issueRegistrationAccessToken: true,
    },
    // RFC 7592: read, update and delete with the registration access token, rotated on update.
    registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
  } as Pick<Features, 'registration' | 'registrationManagement'>
}

/**
 * The registration endpoints answer with the client's metadata; a stored secret is an argon2id
 * hash (client-secrets.ts), which is no use to the client and is not shown. A secret generated
 * in this request (registration, rotation on update) is shown once, in clear.
 */
export function installRegistrationResponses(provider: Provider) {
  provider.use(async (ctx, next) => {
    await next()
    const route = (ctx as KoaContextWithOIDC).oidc?.route
    if (route !== 'client' && route !== 'client_update' && route !== 'registration') return
    const body = ctx.body as Record<string, unknown> | undefined
    if (body && typeof body.client_secret === 'string' && body.client_secret.startsWith('$argon2')) {
      delete body.client_secret
    }
  })
}

/** A new initial access token (RFC 7591 §3); returns its value, shown once. */
export async function createInitialAccessToken(
  provider: Provider,
  ttl: number,
): Promise<{ token: string; expiresAt: Date }> {
  const iat = new provider.InitialAccessToken({ expiresIn: ttl })
  const token = await iat.save()
  return { token, expiresAt: new Date(Date.now() + ttl * 1000) }
}

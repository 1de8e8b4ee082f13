import type { JWK } from 'jose'
import type { Config } from '../../config/env.ts'
import type { UserService } from '../../identity/users.ts'
import type { ResourceQueries } from '../queries/resources.ts'
import type { AdapterFactory } from '../adapters.ts'
import type { JwtRevocations } from '../jwt-access-tokens.ts'
import type { ClientIp } from '../../http/client-ip.ts'
import type { ClientCertOf } from '../../http/client-cert.ts'
import type { KeyVerifier } from '../../apikeys/verify.ts'
import type { ApiKeyExchangeDeps } from '../apikey-exchange.ts'
import type { TokenExchangeDeps } from '../token-exchange.ts'
import type { HoldingsOf } from '../holdings.ts'
import type { LoginHooks } from '../login-policy.ts'

export interface ProviderDeps {
  config: Readonly<Config>
  adapter: AdapterFactory
  jwks: { keys: JWK[] }
  cookieKeys: string[]
  users: UserService
  /** the resource lookup (cached in memory, invalidated by the configuration notice) */
  resources: Pick<ResourceQueries, 'find'>
  /** Scopes of the registered API resources: clients may list them in their `scope`. */
  resourceScopes: string[]
  /** What a user's roles hold (holdings.ts): user tokens carry only those resource scopes. */
  holdings?: HoldingsOf
  onEvent?: (name: string, ...args: unknown[]) => void
  /** Strong login (issue 3): sign-in sessions and MFA step-up checks. */
  login?: LoginHooks
  /** The client IP of a request, for clients with `allowed_ips` (client-ip-allowlist.ts). */
  clientIp?: ClientIp
  /**
   * The client certificate of a request (http/client-cert.ts); given only when one can reach
   * us (TLS_CERT/TLS_KEY or MTLS_CERT_HEADER). Turns on mutual TLS (RFC 8705).
   */
  clientCert?: ClientCertOf
  /** API keys exchanged for JWT access tokens at the token endpoint (apikey-exchange.ts). */
  apiKeyExchange?: { verify: KeyVerifier; maxTtl: number; onExchanged?: ApiKeyExchangeDeps['onExchanged'] }
  /** A user's access token exchanged for a narrower one for another API (token-exchange.ts). */
  tokenExchange?: Pick<TokenExchangeDeps, 'decide' | 'maxTtl' | 'onExchanged' | 'onRefused'>
  /** Revoked JWT access tokens (RFC 7009), shared by every instance (revoked-tokens.ts). */
  revocations?: JwtRevocations
  /** Every web origin some client registered (cors.ts), for CORS preflights. */
  webOrigins?: () => Promise<ReadonlySet<string>>
  /**
   * Whether a user holds some admin role in the `system` store: the console client's token
   * carries the `admin` scope only then (its authority is the store's, not the user's roles).
   */
  holdsAdminRole?: (userId: string) => Promise<boolean>
}

/** Scopes portcullis knows; API scopes come from registered resources. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'roles', 'address', 'phone']

import { errors, type Configuration } from 'oidc-provider'
import type { Config } from '../../config/env.ts'
import type { ClientCertOf } from '../../http/client-cert.ts'
import { webOriginsProblem } from '../cors.ts'
import { allowedIpsProblem } from '../client-ip-allowlist.ts'
import { requestUrisProblem } from '../request-objects.ts'
import { assertDynamicRegistration } from '../dynamic-registration.ts'
import { encryptionJwa } from '../encryption.ts'
import { FRONTCHANNEL_METADATA, validateFrontchannelMetadata } from '../frontchannel-logout.ts'

const ASYMMETRIC: ('RS256' | 'ES256' | 'EdDSA')[] = ['RS256', 'ES256', 'EdDSA']

/** Hashed client secrets (client-secrets.ts): nothing may use a secret as an HMAC key. */
export function clientAuthMethods(clientCert: ClientCertOf | undefined): Configuration['clientAuthMethods'] {
  return [
    'client_secret_basic',
    'client_secret_post',
    'private_key_jwt',
    'none',
    ...(clientCert ? (['tls_client_auth', 'self_signed_tls_client_auth'] as const) : []),
  ]
}

export const enabledJWA: Configuration['enabledJWA'] = {
  clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'],
  idTokenSigningAlgValues: ASYMMETRIC,
  userinfoSigningAlgValues: ASYMMETRIC,
  introspectionSigningAlgValues: ASYMMETRIC,
  authorizationSigningAlgValues: ASYMMETRIC,
  dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
  ...encryptionJwa,
}

export const pkce: Configuration['pkce'] = {
  // RFC 9700 §2.1.1: PKCE for every client using the code flow; a confidential client may
  // be exempted explicitly with `require_pkce: false` (never a public one: see validator).
  required: (_ctx, client) => client.clientAuthMethod === 'none' || client.metadata().require_pkce !== false,
}

type Validator = NonNullable<NonNullable<Configuration['extraClientMetadata']>['validator']>
const authMethodOf = (metadata: unknown) =>
  (metadata as { token_endpoint_auth_method?: string }).token_endpoint_auth_method

/** The flags a client may set only as a confidential client: skip_consent and require_pkce. */
function validateConfidentialOnly(key: string, value: unknown, metadata: unknown) {
  if (key === 'skip_consent' && value !== undefined) {
    if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('skip_consent must be true or false')
    // A public client cannot prove who it is (RFC 8252 §8.6: another app can claim its
    // client_id and redirect URI), so consent is what tells the user which app asks.
    if (value && authMethodOf(metadata) === 'none') {
      throw new errors.InvalidClientMetadata(
        'skip_consent: true is only allowed for confidential clients; public clients (token_endpoint_auth_method none) always show the consent page',
      )
    }
  }
  if (key === 'require_pkce' && value !== undefined) {
    if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('require_pkce must be true or false')
    // RFC 9700 §2.1.1: a public client has nothing else protecting its codes.
    if (!value && authMethodOf(metadata) === 'none') {
      throw new errors.InvalidClientMetadata(
        'require_pkce: false is only allowed for confidential clients; public clients (token_endpoint_auth_method none) always use PKCE',
      )
    }
  }
}

/** Our client metadata beyond the registration specs, each value checked where it is set. */
export function extraClientMetadata(config: Readonly<Config>): Configuration['extraClientMetadata'] {
  const validator: Validator = (ctx, key, value, metadata) => {
    validateFrontchannelMetadata(key, value, metadata as Record<string, unknown>)
    // a client registering itself may set less than an administrator (dynamic-registration.ts)
    if (key === 'resource_servers') assertDynamicRegistration(ctx, metadata as Record<string, unknown>, config)
    if (key === 'request_uris') {
      const problem = requestUrisProblem(value)
      if (problem) throw new errors.InvalidClientMetadata(problem)
    }
    validateConfidentialOnly(key, value, metadata)
    if (key === 'web_origins') {
      const problem = webOriginsProblem(value)
      if (problem) throw new errors.InvalidClientMetadata(problem)
    }
    if (key === 'allowed_ips') {
      const problem = allowedIpsProblem(value)
      if (problem) throw new errors.InvalidClientMetadata(problem)
    }
    if (key === 'require_mfa' && value !== undefined && typeof value !== 'boolean') {
      throw new errors.InvalidClientMetadata('require_mfa must be true or false')
    }
    if (key === 'authz_stores' && value !== undefined) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(v))) {
        throw new errors.InvalidClientMetadata('authz_stores must be an array of policy store names')
      }
    }
    if (key === 'resource_servers' && value !== undefined) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && URL.canParse(v))) {
        throw new errors.InvalidClientMetadata('resource_servers must be an array of absolute URIs')
      }
    }
  }
  return {
    // The resource indicators this client serves as a resource server: it may introspect
    // tokens whose audience is one of them (see introspection.allowedPolicy).
    // `authz_stores`: the policy stores this client may query (all when absent).
    // `require_mfa` (issue 3): users must complete a second factor to sign in to this client.
    // `allowed_ips` (issue 5): the addresses this client may call the token endpoint (and the
    // other client-authenticated endpoints) from.
    // `require_pkce: false` (confidential clients only) lets a client use the code flow
    // without PKCE; the compliance report lists such clients.
    // `web_origins`: the origins a browser app of this client calls us from (cors.ts).
    // `skip_consent: true` (confidential clients only): a first-party client whose users are
    // not asked to consent; they get the OIDC scopes asked for and the resource scopes they
    // hold, never more (interactions/steps/consent.ts). The compliance report lists such clients.
    // `request_uris` (OIDC Core §6.2): the only request_uri values fetched for it (request-objects.ts).
    properties: [
      'resource_servers',
      'authz_stores',
      'require_mfa',
      'allowed_ips',
      'require_pkce',
      'web_origins',
      'skip_consent',
      'request_uris',
      ...FRONTCHANNEL_METADATA,
    ],
    validator,
  }
}

import { errors, type Configuration } from 'oidc-provider'
import { mayIntrospect } from '../jwt-access-tokens.ts'
import { assertClaimsWithinClientScope } from '../standard-claims.ts'
import { registrationFeatures } from '../dynamic-registration.ts'
import { encryptionFeature } from '../encryption.ts'
import { deviceFlow, rpInitiatedLogout } from './pages.ts'
import { mtlsFeature } from './mtls.ts'
import { resourceIndicators, type ResourceServerInfo } from './resources.ts'
import type { ProviderDeps } from './deps.ts'

/** The oidc-provider features portcullis turns on, each with our policy for it. */
export function features(deps: ProviderDeps, API: string, info: ResourceServerInfo): Configuration['features'] {
  const { config } = deps
  return {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // A client may introspect only its own tokens or tokens for a resource server it is.
      // Public clients cannot introspect at all (RFC 7662 §2.1; client-secrets.ts); JWT access
      // tokens are answered by jwt-access-tokens.ts with the same policy.
      async allowedPolicy(_ctx, client, token) {
        return mayIntrospect(client, { clientId: token.clientId, aud: (token as unknown as { aud?: unknown }).aud })
      },
    },
    revocation: {
      enabled: true,
      // RFC 7009 §2.1: a client may revoke only tokens issued to it. A public client asking
      // about another's token gets the RFC's plain 200 (nothing to learn); others an error.
      async allowedPolicy(_ctx, client, token) {
        if (token.clientId === client.clientId) return true
        if (client.clientAuthMethod === 'none') return false
        throw new errors.InvalidRequest('client is not authorized to revoke the presented token')
      },
    },
    userinfo: { enabled: true },
    // RFC 9101 request objects, signed with a key of the client's jwks / jwks_uri (request-objects.ts)
    requestObjects: { enabled: config.REQUEST_OBJECTS === 'on', requireSignedRequestObject: false },
    // OIDC Core §5.5, within the client's scope ceiling (standard-claims.ts)
    claimsParameter: { enabled: true, assertClaimsParameter: assertClaimsWithinClientScope },
    ...encryptionFeature,
    ...registrationFeatures(config),
    pushedAuthorizationRequests: { enabled: true },
    dPoP: { enabled: true },
    ...(deps.clientCert ? { mTLS: mtlsFeature(deps.clientCert) } : {}),
    deviceFlow,
    // OpenID Connect Back-Channel Logout 1.0: a client with a backchannel_logout_uri gets a
    // logout token when a session it took part in ends at the end-session endpoint (here) or
    // anywhere else (backchannel-logout.ts: admin revocation, disabled user, password reset).
    backchannelLogout: { enabled: true },
    rpInitiatedLogout,
    resourceIndicators: resourceIndicators(deps, API, info),
  }
}

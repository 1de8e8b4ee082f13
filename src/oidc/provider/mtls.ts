import type { KoaContextWithOIDC } from 'oidc-provider'
import { certificateSubjectMatches, type ClientCertOf } from '../../http/client-cert.ts'

/**
 * RFC 8705 §5: where a client doing mutual TLS sends its requests. Every endpoint takes a
 * client certificate where it listens (the HTTPS listener asks for one on every connection, or
 * the proxy passes it), so the aliases are the endpoints themselves; advertised so that clients
 * which look for them find them.
 */
export function mtlsEndpointAliases(issuer: string) {
  return {
    token_endpoint: `${issuer}/token`,
    revocation_endpoint: `${issuer}/token/revocation`,
    introspection_endpoint: `${issuer}/token/introspection`,
    userinfo_endpoint: `${issuer}/me`,
    pushed_authorization_request_endpoint: `${issuer}/request`,
    device_authorization_endpoint: `${issuer}/device/auth`,
  }
}

/**
 * Mutual TLS (RFC 8705): tls_client_auth (§2.1, a certificate from a TLS_CLIENT_CA CA whose
 * subject matches the registered tls_client_auth_* value), self_signed_tls_client_auth (§2.2,
 * a certificate in the client's `jwks`), and certificate-bound access tokens (§3, cnf.x5t#S256,
 * for clients registered with tls_client_certificate_bound_access_tokens).
 */
export function mtlsFeature(clientCert: ClientCertOf) {
  return {
    enabled: true,
    certificateBoundAccessTokens: true,
    tlsClientAuth: true,
    selfSignedTlsClientAuth: true,
    getCertificate: (ctx: KoaContextWithOIDC) => clientCert(ctx.req)?.pem,
    certificateAuthorized: (ctx: KoaContextWithOIDC) => clientCert(ctx.req)?.authorized === true,
    certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) => {
      const cert = clientCert(ctx.req)
      return Boolean(cert && certificateSubjectMatches(cert.x509, property, expected))
    },
  }
}

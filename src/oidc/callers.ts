import type { IncomingMessage } from 'node:http'
import type { ClientCertOf } from '../http/client-cert.ts'
import type { BearerScheme, Caller } from '../http/middleware/authn.ts'
import type { ApiTokenVerifier } from './api-tokens.ts'
import { CONSOLE_CLIENT_ID } from './login-policy.ts'

/**
 * Who calls our APIs with a JWT access token for the API resource here: a client, an API key
 * (a token exchanged for one), or the admin console's user. The API key scheme adds itself
 * (apikeys/module.ts).
 */
export function accessTokenCallers(deps: { apiTokens: Pick<ApiTokenVerifier, 'verify'>; clientCert: ClientCertOf }) {
  const { apiTokens, clientCert } = deps
  const verifyAccessToken = async (credential: string, req?: IncomingMessage): Promise<Caller | undefined> => {
    const t = await apiTokens.verify(credential)
    if (!t) return undefined
    // RFC 8705 §3: a certificate-bound token is good only with its certificate.
    if (t.certThumbprint && (!req || clientCert(req)?.thumbprint !== t.certThumbprint)) return undefined
    // A token exchanged for an API key (oidc/apikey-exchange.ts) acts as that key.
    if (t.apiKey) {
      return {
        kind: 'api_key',
        id: t.subject,
        ...(t.subject === t.clientId ? { clientId: t.clientId } : {}),
        scopes: new Set(t.scopes),
        stores: t.stores,
        apiKey: t.apiKey,
      }
    }
    // The admin console's user token (oidc/login-policy.ts CONSOLE_CLIENT_ID): a `user` caller,
    // which only the admin API accepts (http/contract.ts Auth.users); no policy store either.
    if (t.clientId === CONSOLE_CLIENT_ID && t.subject !== t.clientId) {
      return { kind: 'user', id: t.subject, clientId: t.clientId, scopes: new Set(t.scopes), stores: [] }
    }
    return { kind: 'client', id: t.subject, clientId: t.clientId, scopes: new Set(t.scopes), stores: t.stores }
  }
  const accessTokenScheme: BearerScheme = {
    name: 'access_token',
    accepts: (credential) => credential.split('.').length === 3,
    verify: (credential, ctx) => verifyAccessToken(credential, ctx.req),
  }
  return { verifyAccessToken, accessTokenScheme }
}

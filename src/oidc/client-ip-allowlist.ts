import type Provider from 'oidc-provider'
import { errors, type KoaContextWithOIDC } from 'oidc-provider'
import type { ClientIp } from '../http/client-ip.ts'
import { ipInCidrs, parseCidr, type Cidr } from '../net/ip.ts'

/**
 * Per-client IP allowlists (issue 5): client metadata `allowed_ips`, a list of IPv4/IPv6
 * addresses or CIDRs. When present, the client may call the endpoints where a client speaks for
 * itself (token, introspection, revocation, PAR, device authorization) only from those
 * addresses. The authorization endpoint is not limited: a person's browser calls it.
 */
export const CLIENT_IP_ROUTES: ReadonlySet<string> = new Set([
  'token',
  'introspection',
  'revocation',
  'pushed_authorization_request',
  'device_authorization',
  'backchannel_authentication',
])

/** Why `allowed_ips` is not acceptable, or undefined when it is. */
export function allowedIpsProblem(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || value.length === 0 || value.length > 100) {
    return 'allowed_ips must be a list of 1 to 100 IP addresses or CIDRs'
  }
  for (const v of value) {
    if (typeof v !== 'string') return 'allowed_ips must be a list of IP addresses or CIDRs'
    try {
      parseCidr(v)
    } catch (e) {
      return `allowed_ips: ${(e as Error).message}`
    }
  }
  return undefined
}

export interface ClientIpDenied {
  clientId: string
  ip: string
  route: string
  ctx: KoaContextWithOIDC
}

/**
 * oidc-provider has no hook between "the client is known" and "the client authenticated"; every
 * client-authenticating endpoint assigns the client through `OIDCContext#entity('Client', …)`
 * (shared/client_auth.js) before checking its credentials. Checking there refuses a caller from
 * the wrong network without spending an argon2 verification on it, and the error it throws is
 * rendered by the endpoint as an OAuth error response (RFC 6749 §5.2 `unauthorized_client`).
 */
export function installClientIpAllowlists(
  provider: Provider,
  deps: { clientIp: ClientIp; onDenied?: (d: ClientIpDenied) => void },
) {
  const parsed = new WeakMap<object, Cidr[]>()
  const proto = provider.OIDCContext.prototype as unknown as {
    entity(this: { ctx: KoaContextWithOIDC; route: string }, key: string, value: unknown): void
  }
  const assign = proto.entity
  proto.entity = function entity(key, value) {
    if (key === 'Client' && CLIENT_IP_ROUTES.has(this.route)) {
      const client = value as { clientId: string; metadata(): Record<string, unknown> }
      const list = client.metadata().allowed_ips
      if (Array.isArray(list)) {
        let cidrs = parsed.get(client)
        if (!cidrs) parsed.set(client, (cidrs = (list as string[]).map(parseCidr)))
        const ip = deps.clientIp(this.ctx)
        if (!ipInCidrs(ip, cidrs)) {
          deps.onDenied?.({ clientId: client.clientId, ip, route: this.route, ctx: this.ctx })
          throw new errors.UnauthorizedClient(
            `client ${client.clientId} may not be used from ${ip || 'an unknown address'}`,
          )
        }
      }
    }
    assign.call(this, key, value)
  }
}

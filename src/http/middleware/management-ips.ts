import type { Context, Middleware } from 'koa'
import { AppError } from '../../errors.ts'
import type { ClientIp } from '../client-ip.ts'
import { ipInCidrs, parseCidr } from '../../net/ip.ts'

export interface ManagementIpDeps {
  /** MANAGEMENT_ALLOWED_IPS: addresses or CIDRs; empty means no restriction. */
  allowed: readonly string[]
  clientIp: ClientIp
  onDenied?: (ctx: Context, ip: string) => void
}

/**
 * The management APIs' IP allowlist (issue 5): mounted on each management route ahead of
 * authentication, so a caller from outside learns nothing about its credentials. A bearer
 * token is stolen more easily than a network position is; this is the second lock, as
 * Keycloak operators get by exposing /admin only on an internal listener.
 */
export function managementIpGuard(deps: ManagementIpDeps): Middleware {
  const cidrs = deps.allowed.map(parseCidr)
  if (!cidrs.length) return (_ctx, next) => next()
  return async (ctx, next) => {
    const ip = deps.clientIp(ctx)
    if (!ipInCidrs(ip, cidrs)) {
      deps.onDenied?.(ctx, ip)
      throw new AppError('ip_not_allowed', `the management API may not be called from ${ip || 'an unknown address'}`, {
        status: 403,
      })
    }
    await next()
  }
}

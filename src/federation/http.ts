import type { Context } from 'koa'
import type { HttpSurface } from '../http/surface.ts'
import { federationCallbackRouter, federationInteractions, type FederationRouteDeps } from './routes.ts'

/**
 * Sign-in through an upstream identity provider: the callback page, and the steps the
 * OpenID Provider's interactions mount (`interactions`, handed to oidcHttp).
 */
export function federationHttp(
  deps: FederationRouteDeps & { clientIp: (ctx: Context) => string },
): HttpSurface<'callback'> & { interactions: ReturnType<typeof federationInteractions> } {
  return {
    interactions: federationInteractions({
      federation: deps.federation,
      users: deps.users,
      audit: deps.audit,
      login: deps.login,
    }),
    pages: { callback: federationCallbackRouter({ audit: deps.audit, clientIp: deps.clientIp }) },
  }
}

import type { HttpSurface } from '../http/surface.ts'
import { authzRoutes, type AuthzRouteDeps } from './routes.ts'

/** The authorization API (AuthZEN decisions, policy stores): route contracts only. */
export function authzHttp(deps: AuthzRouteDeps): HttpSurface {
  return { routes: authzRoutes(deps) }
}

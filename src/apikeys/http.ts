import type { HttpSurface } from '../http/surface.ts'
import { apiKeyRoutes, type ApiKeyRouteDeps } from './routes.ts'

/** The API key management API: route contracts only. */
export function apikeysHttp(deps: ApiKeyRouteDeps): HttpSurface {
  return { routes: apiKeyRoutes(deps) }
}

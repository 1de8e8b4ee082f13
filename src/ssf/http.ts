import type { HttpSurface } from '../http/surface.ts'
import { ssfRoutes } from './routes.ts'
import { ssfAdminRoutes } from './admin-routes.ts'
import type { SsfService } from './service.ts'

/** The Shared Signals transmitter's API and its admin routes: route contracts only. */
export function ssfHttp(deps: { ssf: SsfService; authority: Parameters<typeof ssfAdminRoutes>[1] }): HttpSurface {
  return { routes: [...ssfRoutes(deps.ssf), ...ssfAdminRoutes(deps.ssf, deps.authority)] }
}

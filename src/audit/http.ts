import type { HttpSurface } from '../http/surface.ts'
import { auditRoutes, type AuditRouteDeps } from './routes.ts'

/** The audit API (records, chain verification, compliance report): route contracts only. */
export function auditHttp(deps: AuditRouteDeps): HttpSurface {
  return { routes: auditRoutes(deps) }
}

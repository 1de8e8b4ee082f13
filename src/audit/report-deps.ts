import type { AuditChain } from './service.ts'
import type { AuditQueries } from './queries.ts'
import type { ComplianceProviders, ReportDeps } from './report.ts'

/**
 * Where the compliance report's inputs live in the running server (the container has this shape;
 * DESIGN.md "Layout": a feature names the narrow dependencies it needs, never the container).
 */
export interface ReportSources {
  queries: { users: { list: ReportDeps['users'] }; clients: { list: ReportDeps['clients'] }; audit: AuditQueries }
  resources: { list: ReportDeps['resources'] }
  keys: { list: ReportDeps['keys'] }
  auditChain: Pick<AuditChain, 'verify'>
  compliance: { providers: ComplianceProviders }
  config: ReportDeps['config']
}

/** What the compliance report reads (API and CLI share it). */
export const reportDeps = (c: ReportSources): ReportDeps => ({
  users: () => c.queries.users.list(),
  clients: () => c.queries.clients.list(),
  resources: () => c.resources.list(),
  keys: () => c.keys.list(),
  audit: c.queries.audit,
  verify: () => c.auditChain.verify(),
  providers: c.compliance.providers,
  config: c.config,
})

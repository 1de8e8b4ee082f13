import type { Container } from '../container.ts'
import type { ReportDeps } from './report.ts'

/** What the compliance report reads, taken from the container (API and CLI share it). */
export const reportDeps = (c: Container): ReportDeps => ({
  users: () => c.queries.users.list(),
  clients: () => c.queries.clients.list(),
  resources: () => c.resources.list(),
  keys: () => c.keys.list(),
  audit: c.queries.audit,
  verify: () => c.auditChain.verify(),
  providers: c.compliance.providers,
  config: c.config,
})

import type { AuditAction } from '../../src/audit/actions.ts'

/**
 * An action name made up by a test that exercises the log itself (chain, outbox, syslog), not a
 * feature's record: `audit.record` accepts only catalogued actions (src/audit/actions.ts).
 */
export const testAction = (name: string) => name as AuditAction

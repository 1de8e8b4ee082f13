import type { Config } from '../config/env.ts'
import { auditCommand, reportCommand, type AuditCliOptions } from '../audit/cli.ts'
import { withContainer } from './container.ts'

/** `portcullis audit verify|export|prune|checkpoint`: the container hands audit/cli.ts its narrow deps. */
export const audit = (config: Readonly<Config>, sub: string | undefined, o: AuditCliOptions) =>
  withContainer(config, (c) => auditCommand(c, sub, o))

/** `portcullis report`: the compliance report over the container's sources. */
export const report = (config: Readonly<Config>, o: AuditCliOptions) =>
  withContainer(config, (c) => reportCommand(c, o))

import type { Config } from '../config/env.ts'
import { policyApplyCommand } from '../authz/cli.ts'
import { withContainer } from './container.ts'

/** `portcullis policy apply FILE [--reason TEXT]`: the container hands authz/cli.ts its narrow deps. */
export const policyApply = (config: Readonly<Config>, file: string | undefined, reason?: string) =>
  withContainer(config, (c) => policyApplyCommand(c, file, reason))

import type { Config } from '../config/env.ts'
import { adminCommand, type AdminCliOptions } from '../admin/cli.ts'
import { withContainer } from './container.ts'

/** `portcullis admin ...`: the container hands admin/cli.ts (and identity/cli.ts) their narrow deps. */
export const admin = (config: Readonly<Config>, args: string[], opts: AdminCliOptions) =>
  withContainer(config, (c) => adminCommand(c, args, opts))

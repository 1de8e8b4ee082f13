import type { Config } from '../config/env.ts'
import { apikeysCommand } from '../apikeys/cli.ts'
import { withContainer } from './container.ts'

/** `portcullis apikeys ...`: the container hands apikeys/cli.ts its narrow deps. */
export const apikeys = (config: Readonly<Config>, argv: string[]) =>
  withContainer(config, (c) => apikeysCommand(c, argv))

import { parseArgs } from 'node:util'
import type { Config } from '../config/env.ts'

/*
 * What a `portcullis` command is. Each capability declares its commands in a dependency-free
 * `src/<feature>/commands.ts` (strings, and `await import(...)` inside `run`), so `help` and
 * `policy test` load no configuration, database or server code (bench/cli-startup.ts).
 * Keep this file's imports to node built-ins and types.
 */

export type Values = ReturnType<typeof parseOptions>['values']

export interface Command {
  /** its lines in `portcullis help` */
  usage: string
  /** runs with the environment's configuration; undefined means the process keeps running */
  run(config: () => Promise<Readonly<Config>>, rest: string[], values: Values): Promise<number | undefined>
}

/** yaml is only the export default; the other commands choose their own */
export const notYaml = (format: string | undefined) => (format === 'yaml' ? undefined : format)

export function parseOptions(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'yaml' },
      workers: { type: 'string' },
      out: { type: 'string' },
      reason: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      // audit export / report filters
      // admin create-user / create-client
      role: { type: 'string', multiple: true },
      invite: { type: 'boolean' },
      scope: { type: 'string', multiple: true },
      'redirect-uri': { type: 'string', multiple: true },
      from: { type: 'string' },
      to: { type: 'string' },
      action: { type: 'string' },
      actor: { type: 'string' },
      target: { type: 'string' },
      outcome: { type: 'string' },
      days: { type: 'string' },
    },
  })
}

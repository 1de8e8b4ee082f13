import { ConfigError, AppError } from './errors.ts'
import { parseOptions, type Command } from './commands/command.ts'
import { platformCommands } from './commands/commands.ts'
import { authzCommands } from './authz/commands.ts'
import { auditCommands } from './audit/commands.ts'
import { apikeysCommands } from './apikeys/commands.ts'
import { adminCommands } from './admin/commands.ts'

/*
 * The `portcullis` command: a registry of commands, each importing its modules only when it runs.
 * `help`, unknown commands and `policy test` load no configuration, database or server code, so
 * they start in a fraction of a second (bench/cli-startup.ts measures it). Each capability
 * declares its commands in its dependency-free commands.ts (src/commands/command.ts); keep the
 * static imports above this line to such modules. A command that needs the service container
 * gets it in src/commands/ (withContainer) and hands each feature's CLI the narrow dependencies
 * it declares; no feature imports the container (docs/architecture.md).
 */

const loadConfig = async () => (await import('./config/env.ts')).loadConfig()
// In `portcullis help` order.
const COMMANDS: Record<string, Command> = {
  ...platformCommands,
  ...authzCommands,
  ...auditCommands,
  ...apikeysCommands,
  ...adminCommands,
  help: {
    usage: '  help                       this text',
    run: async () => {
      process.stdout.write(USAGE + '\n')
      return 0
    },
  },
}

export const USAGE = `usage: portcullis <command> [options]

commands:
${Object.values(COMMANDS)
  .map((c) => c.usage)
  .join('\n')}

configuration comes from environment variables; see .env.example`

export async function main(argv: string[]): Promise<number | undefined> {
  if (argv[0] === 'apikeys' && !argv.includes('--help') && !argv.includes('-h')) {
    const config = await loadConfig()
    return (await import('./commands/apikeys.ts')).apikeys(config, argv.slice(1))
  }
  const { positionals, values } = parseOptions(argv)
  const [name = 'serve', ...rest] = positionals
  const command = values.help ? COMMANDS.help : Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined
  if (!command) throw new AppError('usage', `unknown command ${name}\n\n${USAGE}`, { status: 400 })
  return command.run(loadConfig, rest, values)
}

const isEntry = process.argv[1] && /portcullis(\.mjs)?$|main\.[jt]s$/.test(process.argv[1])
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== undefined) process.exit(code)
    },
    (err) => {
      if (err instanceof ConfigError || (err instanceof AppError && err.status < 500)) {
        process.stderr.write(`portcullis: ${err.message}\n`)
        process.exit(2)
      }
      process.stderr.write(`portcullis: ${(err as Error)?.stack ?? err}\n`)
      process.exit(1)
    },
  )
}

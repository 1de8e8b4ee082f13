import type { Command } from './command.ts'

/**
 * The platform's own commands (serve, and the data commands over the whole deployment):
 * dependency-free, like every feature's commands.ts; each imports its module when it runs.
 */
export const platformCommands: Record<string, Command> = {
  serve: {
    usage: `  serve [--workers N|auto]   migrate, bootstrap and start the server (default); --workers: N processes
                             on one port (auto: one per core; default 1 or WORKERS; needs PostgreSQL + Redis)`,
    async run(config, _rest, values) {
      await (await import('./serve.ts')).serve(await config(), { workers: values.workers })
      return undefined // keeps running
    },
  },
  migrate: {
    usage: '  migrate                    apply pending database migrations',
    run: async (config) => (await import('./data.ts')).migrateCommand(await config()),
  },
  import: {
    usage: '  import FILE                apply a JSON/YAML configuration document (idempotent)',
    run: async (config, rest) => (await import('./data.ts')).importCommand(await config(), rest[0]),
  },
  export: {
    usage: `  export [--format yaml|json] [--out FILE]
                             write the configuration document, without secrets`,
    run: async (config, _rest, values) => (await import('./data.ts')).exportCommand(await config(), values),
  },
  keys: {
    usage: `  keys list                  list signing keys and their state
  keys rotate                add a new signing key generation and make it the signer`,
    run: async (config, rest) => (await import('./data.ts')).keysCommand(await config(), rest[0]),
  },
}

import { parseArgs } from 'node:util'
import type { Config } from './config/env.ts'
import { ConfigError, AppError } from './errors.ts'
import { APIKEYS_USAGE } from './apikeys/cli-usage.ts'

/*
 * The `portcullis` command: a registry of commands, each importing its modules only when it runs.
 * `help`, unknown commands and `policy test` load no configuration, database or server code, so
 * they start in a fraction of a second (bench/cli-startup.ts measures it). Keep the static
 * imports above this line to modules with no dependencies of their own. A command that needs the
 * service container gets it in src/commands/ (withContainer) and hands each feature's CLI the
 * narrow dependencies it declares; no feature imports the container (docs/architecture.md).
 */

type Values = ReturnType<typeof parseOptions>['values']

interface Command {
  /** its lines in `portcullis help` */
  usage: string
  /** runs with the environment's configuration; undefined means the process keeps running */
  run(config: () => Promise<Readonly<Config>>, rest: string[], values: Values): Promise<number | undefined>
}

const loadConfig = async () => (await import('./config/env.ts')).loadConfig()
/** yaml is only the export default; the other commands choose their own */
const notYaml = (format: string | undefined) => (format === 'yaml' ? undefined : format)

const COMMANDS: Record<string, Command> = {
  serve: {
    usage: `  serve [--workers N|auto]   migrate, bootstrap and start the server (default); --workers: N processes
                             on one port (auto: one per core; default 1 or WORKERS; needs PostgreSQL + Redis)`,
    async run(config, _rest, values) {
      await (await import('./commands/serve.ts')).serve(await config(), { workers: values.workers })
      return undefined // keeps running
    },
  },
  migrate: {
    usage: '  migrate                    apply pending database migrations',
    run: async (config) => (await import('./commands/data.ts')).migrateCommand(await config()),
  },
  import: {
    usage: '  import FILE                apply a JSON/YAML configuration document (idempotent)',
    run: async (config, rest) => (await import('./commands/data.ts')).importCommand(await config(), rest[0]),
  },
  export: {
    usage: `  export [--format yaml|json] [--out FILE]
                             write the configuration document, without secrets`,
    run: async (config, _rest, values) => (await import('./commands/data.ts')).exportCommand(await config(), values),
  },
  keys: {
    usage: `  keys list                  list signing keys and their state
  keys rotate                add a new signing key generation and make it the signer`,
    run: async (config, rest) => (await import('./commands/data.ts')).keysCommand(await config(), rest[0]),
  },
  policy: {
    usage: `  policy test FILE...        run a policy file's expected decisions (no server or database needed)
  policy apply FILE [--reason TEXT]
                             commit the file's policy store as a new version (its cases must pass)`,
    async run(config, rest, values) {
      const cli = await import('./authz/cli.ts')
      // Policy tests run in other teams' CI: no configuration, database or server involved.
      if (rest[0] === 'test')
        return cli.policyTestCommand((await import('./authz/engine-port.ts')).enginePort, rest.slice(1))
      if (rest[0] !== 'apply')
        throw new AppError('usage', `unknown policy subcommand ${rest[0] ?? ''} (test | apply)`, { status: 400 })
      return (await import('./commands/policy.ts')).policyApply(await config(), rest[1], values.reason)
    },
  },
  audit: {
    usage: `  audit verify [--format text|json]
                             walk the audit hash chain and its signed checkpoints; exit 1 on tampering
  audit export [--format jsonl|cef] [--out FILE] [--from ISO] [--to ISO] [--action A] [--actor X]
               [--target T] [--outcome success|failure|info]
                             write audit records as JSON Lines or CEF (oldest first)
  audit prune [--days N]     delete records older than N days (default AUDIT_RETENTION_DAYS), keeping the chain verifiable
  audit checkpoint           sign a checkpoint of the audit chain now`,
    async run(config, rest, values) {
      const c = await config()
      return (await import('./commands/audit.ts')).audit(c, rest[0], { ...values, format: notYaml(values.format) })
    },
  },
  report: {
    usage: `  report [--format json|html] [--days N] [--out FILE]
                             compliance report (period: the last N days, default 30); exit 1 if the audit chain fails`,
    async run(config, _rest, values) {
      const c = await config()
      return (await import('./commands/audit.ts')).report(c, { ...values, format: notYaml(values.format) })
    },
  },
  apikeys: {
    usage: APIKEYS_USAGE,
    // `apikeys` parses its own options (--owner, --scopes, --allow-ip ...); see main()
    run: () => Promise.reject(new Error('unreachable')),
  },
  admin: {
    usage: `  admin unlock EMAIL         lift a sign-in lockout (failed attempts) for an account
  admin require-mfa on|off   require a second factor from every user (enrolment at next sign-in)
  admin disable EMAIL        disable an account: no sign-in, its sessions end, its API keys stop
  admin enable EMAIL         enable a disabled account again
  admin create-user EMAIL [--role R]... [--invite]
                             create a user with a one-time password (or a single-use invitation link), printed once
  admin reset-mfa EMAIL      remove a user's second factors and recovery codes
  admin reset-password EMAIL set a temporary password (printed once, must be changed); the user's sessions end
  admin create-client ID [--scope S]... [--redirect-uri U]...
                             create a client (code flow with redirect URIs, else client credentials); prints its secret once
  admin create-iat           an initial access token for dynamic client registration (printed once)
  admin rotate-keys          add a new signing key generation (as keys rotate; audited, every instance reloads)
  admin grant-role EMAIL|client:ID ROLE
  admin revoke-role EMAIL|client:ID ROLE
                             admin roles (admin, user-manager, client-manager, policy-editor, auditor, helpdesk)`,
    async run(config, rest, values) {
      const c = await config()
      return (await import('./commands/admin.ts')).admin(c, rest, values)
    },
  },
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

function parseOptions(argv: string[]) {
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

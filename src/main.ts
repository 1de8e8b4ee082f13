import fs from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { loadConfig, type Config } from './config/env.ts'
import { ConfigError, AppError } from './errors.ts'
import { migrate } from './db/migrate.ts'
import { createContainer, type Container } from './container.ts'
import { createLogger, installProcessHandlers } from './logger.ts'
import { ensureAdmin, ensureDefaultPolicyStore } from './bootstrap.ts'
import { startServer } from './server.ts'
import { importFile } from './declarative/apply.ts'
import { exportDocument, formatDocument } from './declarative/export.ts'
import { policyApplyCommand, policyTestCommand } from './authz/cli.ts'
import { enginePort } from './authz/engine-port.ts'
import { APIKEYS_USAGE, apikeysCommand, issuedKeyText } from './apikeys/cli.ts'
import { auditCommand, reportCommand } from './audit/cli.ts'
import { adminCommand } from './identity/cli.ts'

const USAGE = `usage: portcullis <command> [options]

commands:
  serve                      migrate, bootstrap and start the server (default)
  migrate                    apply pending database migrations
  import FILE                apply a JSON/YAML configuration document (idempotent)
  export [--format yaml|json] [--out FILE]
                             write the configuration document, without secrets
  keys list                  list signing keys and their state
  keys rotate                add a new signing key generation and make it the signer
  policy test FILE...        run a policy file's expected decisions (no server or database needed)
  policy apply FILE [--reason TEXT]
                             commit the file's policy store as a new version (its cases must pass)
  audit verify [--format text|json]
                             walk the audit hash chain and its signed checkpoints; exit 1 on tampering
  audit export [--format jsonl|cef] [--out FILE] [--from ISO] [--to ISO] [--action A] [--actor X]
               [--target T] [--outcome success|failure|info]
                             write audit records as JSON Lines or CEF (oldest first)
  audit prune [--days N]     delete records older than N days (default AUDIT_RETENTION_DAYS), keeping the chain verifiable
  audit checkpoint           sign a checkpoint of the audit chain now
  report [--format json|html] [--days N] [--out FILE]
                             compliance report (period: the last N days, default 30); exit 1 if the audit chain fails
${APIKEYS_USAGE}
  admin unlock EMAIL         lift a sign-in lockout (failed attempts) for an account
  admin require-mfa on|off   require a second factor from every user (enrolment at next sign-in)
  admin disable EMAIL        disable an account: no sign-in, its sessions end, its API keys stop
  admin enable EMAIL         enable a disabled account again
  help                       this text

configuration comes from environment variables; see .env.example`

async function withContainer<T>(config: Readonly<Config>, fn: (c: Container) => Promise<T>): Promise<T> {
  await migrate(config.DATABASE_URL)
  const c = await createContainer(config, { logger: createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL) })
  try {
    return await fn(c)
  } finally {
    await c.close()
  }
}

function maxTokenLifetime(config: Readonly<Config>, resourceTtls: number[]) {
  // Old keys stay published while anything they signed may still be presented, plus clock skew.
  return Math.max(config.ACCESS_TOKEN_TTL, config.ID_TOKEN_TTL, ...resourceTtls) + 300
}

async function serve(config: Readonly<Config>) {
  const logger = createLogger(config.LOG_LEVEL)
  const applied = await migrate(config.DATABASE_URL, (m) => logger.info(m))
  if (applied.length) logger.info({ applied }, 'database migrated')
  const c = await createContainer(config, { logger })
  if (c.masterKey.generated) {
    logger.warn(`\n!!! No PORTCULLIS_MASTER_KEY set: generated one in ${c.masterKey.file} (mode 0600).\n!!! Anyone who can read that file and the database can read every secret. Set PORTCULLIS_MASTER_KEY in production.\n`)
  } else if (c.masterKey.file) {
    logger.warn(`using the master key in ${c.masterKey.file}; set PORTCULLIS_MASTER_KEY in production`)
  }
  const admin = await ensureAdmin(c)
  await ensureDefaultPolicyStore(c)
  if (admin?.password) {
    // Printed once, to the terminal only (not the JSON log).
    process.stderr.write(`\n  portcullis: created administrator ${admin.email}\n  one-time password: ${admin.password}\n  (shown once; you must change it at first sign-in)\n\n`)
  } else if (admin) {
    logger.info({ email: admin.email }, 'created administrator from PORTCULLIS_ADMIN_EMAIL')
  }
  if (config.PORTCULLIS_IMPORT) {
    // Keys issued by the import are printed once to the terminal (stderr), never logged.
    const summary = await importFile(c, config.PORTCULLIS_IMPORT, 'PORTCULLIS_IMPORT', { onKeyIssued: (k) => process.stderr.write(issuedKeyText(k)) })
    logger.info({ file: config.PORTCULLIS_IMPORT, ...summary }, 'configuration imported')
  }
  installProcessHandlers(logger)
  const { port, close } = await startServer(c)
  logger.info({ port, issuer: config.PUBLIC_URL, database: config.embedded ? 'sqlite' : 'postgresql', redis: Boolean(config.REDIS_URL) }, 'portcullis listening')
  let signals = 0
  const stop = (signal: string) => {
    if (signals++ > 0) process.exit(1) // a second signal: stop now
    logger.info({ signal }, 'signal received')
    close().then(() => process.exit(0), (err) => {
      logger.error({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

export async function main(argv: string[]) {
  // API key subcommands have their own options (--owner, --scopes, --allow-ip ...).
  if (argv[0] === 'apikeys' && !argv.includes('--help') && !argv.includes('-h')) {
    return withContainer(loadConfig(), (c) => apikeysCommand(c, argv.slice(1)))
  }
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'yaml' }, out: { type: 'string' }, reason: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      // audit export / report filters
      from: { type: 'string' }, to: { type: 'string' }, action: { type: 'string' }, actor: { type: 'string' }, target: { type: 'string' }, outcome: { type: 'string' }, days: { type: 'string' },
    },
  })
  const [command = 'serve', ...rest] = positionals
  if (values.help || command === 'help') {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  // Policy tests run in other teams' CI: no configuration, database or server involved.
  if (command === 'policy' && rest[0] === 'test') return policyTestCommand(enginePort, rest.slice(1))
  const config = loadConfig()
  switch (command) {
    case 'policy': {
      if (rest[0] !== 'apply') throw new AppError('usage', `unknown policy subcommand ${rest[0] ?? ''} (test | apply)`, { status: 400 })
      return withContainer(config, (c) => policyApplyCommand(c, rest[1], values.reason))
    }
    case 'audit': {
      const fmt = values.format === 'yaml' ? undefined : values.format // yaml is only the export default
      return withContainer(config, (c) => auditCommand(c, rest[0], { ...values, format: fmt }))
    }
    case 'report': {
      const fmt = values.format === 'yaml' ? undefined : values.format
      return withContainer(config, (c) => reportCommand(c, { ...values, format: fmt }))
    }
    case 'admin':
      return withContainer(config, (c) => adminCommand(c, rest))
    case 'serve':
      await serve(config)
      return undefined // keeps running
    case 'migrate': {
      const applied = await migrate(config.DATABASE_URL)
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n')
      return 0
    }
    case 'import': {
      const file = rest[0]
      if (!file) throw new AppError('usage', 'import needs a FILE', { status: 400 })
      const summary = await withContainer(config, (c) => importFile(c, file, 'cli', { onKeyIssued: (k) => process.stdout.write(issuedKeyText(k)) }))
      process.stdout.write(`applied ${file}: ${summary.clients} client(s), ${summary.users} user(s), ${summary.resources} resource(s), ${summary.policy_stores} policy store(s)\n`)
      return 0
    }
    case 'export': {
      const format = values.format === 'json' ? 'json' : 'yaml'
      const text = await withContainer(config, async (c) => formatDocument(await exportDocument(c), format))
      if (values.out) await fs.writeFile(values.out, text)
      else process.stdout.write(text)
      return 0
    }
    case 'keys': {
      const sub = rest[0] ?? 'list'
      return withContainer(config, async (c) => {
        if (sub === 'rotate') {
          const ttls = (await c.resources.list()).map((r) => r.accessTokenTtl)
          const r = await c.keys.rotate(maxTokenLifetime(config, ttls))
          await c.audit.record({ action: 'keys.rotated', outcome: 'success', actor: 'cli', details: { added: r.added, retired: r.retired } })
          process.stdout.write(`new signing keys: ${r.added.map((k) => `${k.alg} ${k.kid}`).join(', ')}\nprevious keys stay published until the tokens they signed expire; ${r.retired} key(s) retired now\nrunning servers pick the new keys up within KEYS_REFRESH_INTERVAL (${config.KEYS_REFRESH_INTERVAL}s)\n`)
          return 0
        }
        if (sub === 'list') {
          for (const k of await c.keys.list()) {
            process.stdout.write(`${k.status.padEnd(9)} ${k.alg.padEnd(6)} ${k.kid}  created ${k.createdAt.toISOString()}${k.retireAfter ? `  retire after ${k.retireAfter.toISOString()}` : ''}\n`)
          }
          return 0
        }
        throw new AppError('usage', `unknown keys subcommand ${sub} (list | rotate)`, { status: 400 })
      })
    }
    default:
      throw new AppError('usage', `unknown command ${command}\n\n${USAGE}`, { status: 400 })
  }
}

const isEntry = process.argv[1] && /portcullis(\.mjs)?$|main\.ts$/.test(process.argv[1])
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

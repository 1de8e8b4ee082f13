import type { Config } from '../config/env.ts'
import { migrate } from '../db/migrate.ts'
import { waitForDatabase } from '../db/startup.ts'
import { createContainer } from '../container.ts'
import { createLogger, installProcessHandlers } from '../logger.ts'
import { ensureAdmin, ensureDefaultPolicyStore } from '../bootstrap.ts'
import { startServer } from '../server.ts'

/** `portcullis serve`: migrate, bootstrap and start the server; runs until SIGTERM or SIGINT. */
export async function serve(config: Readonly<Config>) {
  const logger = createLogger(config.LOG_LEVEL)
  // PostgreSQL may still be starting (compose, systemd): wait, bounded by DB_STARTUP_TIMEOUT.
  await waitForDatabase(config.DATABASE_URL, { timeout: config.DB_STARTUP_TIMEOUT, connectTimeout: config.DB_CONNECT_TIMEOUT, log: (msg, fields) => logger.warn(fields, msg) })
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
  await (await import('../admin/service.ts')).ensureSystemPolicyStore(c)
  if (admin?.password) {
    // Printed once, to the terminal only (not the JSON log).
    process.stderr.write(`\n  portcullis: created administrator ${admin.email}\n  one-time password: ${admin.password}\n  (shown once; you must change it at first sign-in)\n\n`)
  } else if (admin) {
    logger.info({ email: admin.email }, 'created administrator from PORTCULLIS_ADMIN_EMAIL')
  }
  if (config.PORTCULLIS_IMPORT) {
    // Loaded only when there is a file to import: most starts have none.
    const [{ importFile }, { issuedKeyText }] = await Promise.all([import('../declarative/apply.ts'), import('../apikeys/cli.ts')])
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

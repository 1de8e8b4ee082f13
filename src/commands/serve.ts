import type { Config } from '../config/env.ts'
import { migrate } from '../db/migrate.ts'
import { waitForDatabase } from '../db/startup.ts'
import { createContainer } from '../container.ts'
import { createLogger, installProcessHandlers } from '../logger.ts'
import { ensureAdmin, ensureDefaultPolicyStore } from '../bootstrap.ts'
import { startServer } from '../server.ts'
import cluster from 'node:cluster'
import { checkClusterConfig, isOurWorker, onPrimaryShutdown, resolveWorkers, runPrimary } from './cluster.ts'

/**
 * `portcullis serve [--workers N|auto]`: migrate, bootstrap and start the server; runs until
 * SIGTERM or SIGINT. With more than one worker, this process migrates and bootstraps once, then
 * forks the workers (cluster.ts); each worker re-runs this command and only serves.
 */
export async function serve(config: Readonly<Config>, opts: { workers?: string } = {}) {
  if (isOurWorker()) return serveWorker(config)
  const workers = resolveWorkers(opts.workers, config.WORKERS)
  // Refused before anything is touched: no migration, no key file, no half-started cluster.
  checkClusterConfig(config, workers)
  const logger = createLogger(config.LOG_LEVEL)
  // PostgreSQL may still be starting (compose, systemd): wait, bounded by DB_STARTUP_TIMEOUT.
  await waitForDatabase(config.DATABASE_URL, {
    timeout: config.DB_STARTUP_TIMEOUT,
    connectTimeout: config.DB_CONNECT_TIMEOUT,
    log: (msg, fields) => logger.warn(fields, msg),
  })
  const applied = await migrate(config.DATABASE_URL, (m) => logger.info(m))
  if (applied.length) logger.info({ applied }, 'database migrated')
  const c = await createContainer(config, { logger })
  if (c.masterKey.generated) {
    logger.warn(
      `\n!!! No PORTCULLIS_MASTER_KEY set: generated one in ${c.masterKey.file} (mode 0600).\n!!! Anyone who can read that file and the database can read every secret. Set PORTCULLIS_MASTER_KEY in production.\n`,
    )
  } else if (c.masterKey.file) {
    logger.warn(`using the master key in ${c.masterKey.file}; set PORTCULLIS_MASTER_KEY in production`)
  }
  const admin = await ensureAdmin(c)
  await ensureDefaultPolicyStore(c)
  await (await import('../admin/service.ts')).ensureSystemPolicyStore(c)
  if (admin?.password) {
    // Printed once, to the terminal only (not the JSON log).
    process.stderr.write(
      `\n  portcullis: created administrator ${admin.email}\n  one-time password: ${admin.password}\n  (shown once; you must change it at first sign-in)\n\n`,
    )
  } else if (admin) {
    logger.info({ email: admin.email }, 'created administrator from PORTCULLIS_ADMIN_EMAIL')
  }
  if (config.PORTCULLIS_IMPORT) {
    // Loaded only when there is a file to import: most starts have none.
    const [{ importFile }, { issuedKeyText }] = await Promise.all([
      import('../declarative/apply.ts'),
      import('../apikeys/cli.ts'),
    ])
    // Keys issued by the import are printed once to the terminal (stderr), never logged.
    const summary = await importFile(c, config.PORTCULLIS_IMPORT, 'PORTCULLIS_IMPORT', {
      onKeyIssued: (k) => process.stderr.write(issuedKeyText(k)),
    })
    logger.info({ file: config.PORTCULLIS_IMPORT, ...summary }, 'configuration imported')
  }
  installProcessHandlers(logger)
  if (workers > 1) {
    // The workers open their own connections; the primary keeps none.
    await c.close()
    runPrimary(config, workers, logger)
    return
  }
  const { port, close } = await startServer(c)
  logger.info(
    {
      port,
      tls: Boolean(config.tls?.cert),
      mtlsHeader: config.MTLS_CERT_HEADER,
      issuer: config.PUBLIC_URL,
      database: config.embedded ? 'sqlite' : 'postgresql',
      redis: Boolean(config.REDIS_URL),
    },
    'portcullis listening',
  )
  let signals = 0
  const stop = (signal: string) => {
    if (signals++ > 0) process.exit(1) // a second signal: stop now
    logger.info({ signal }, 'signal received')
    close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

/** A cluster worker: the primary has migrated and bootstrapped; build the container and serve. */
async function serveWorker(config: Readonly<Config>) {
  // Every log line of a worker says which one (pid), so an operator can tell them apart.
  const logger = createLogger(config.LOG_LEVEL).child({ worker: cluster.worker?.id, pid: process.pid })
  installProcessHandlers(logger)
  const running: { close?: () => Promise<void> } = {}
  let signals = 0
  let stopping = false
  const stop = (reason: string, fromSignal: boolean) => {
    if (fromSignal && signals++ > 0) process.exit(1) // a second signal: stop now
    if (stopping) return
    stopping = true
    logger.info({ reason }, 'worker stopping')
    // Asked to stop while still starting: nothing to drain yet.
    if (!running.close) process.exit(0)
    running.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed')
        process.exit(1)
      },
    )
  }
  // Listening for the stop before starting, so a shutdown during start-up is not missed.
  process.on('SIGTERM', () => stop('SIGTERM', true))
  process.on('SIGINT', () => stop('SIGINT', true))
  onPrimaryShutdown(() => stop('primary shutdown', false))
  // The primary is gone (killed): nobody restarts or stops this worker any more.
  process.on('disconnect', () => stop('primary exited', false))
  const c = await createContainer(config, { logger })
  const started = await startServer(c)
  running.close = started.close
  logger.info({ port: started.port }, 'worker listening')
  if (stopping)
    void started.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
}

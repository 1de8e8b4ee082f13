import cluster, { type Worker } from 'node:cluster'
import os from 'node:os'
import type { Config } from '../config/env.ts'
import { AppError } from '../errors.ts'
import type { Logger } from '../logger.ts'

/*
 * `portcullis serve --workers N` (issue 16 §2): a primary process that migrates and bootstraps
 * once, then forks N workers (node:cluster) that each build their own container and accept on
 * the shared port. Workers hold no state another worker needs: everything shared goes through
 * the database and Redis, exactly as with separate instances behind a load balancer.
 */

/**
 * Marks the processes this primary forked: being a cluster worker alone is not enough, since a
 * process manager's own cluster mode (pm2) runs `serve` as a cluster worker too, and that one
 * must still migrate and bootstrap.
 */
export const WORKER_ENV = 'PORTCULLIS_CLUSTER_WORKER'
export const isOurWorker = () => cluster.isWorker && process.env[WORKER_ENV] === '1'

/** How many restarts of crashed workers within RESTART_WINDOW_MS before the primary gives up. */
const MAX_RESTARTS = 5
const RESTART_WINDOW_MS = 60_000
/** A worker's shutdown also closes the database and Redis (up to 5 s, see server.ts). */
const CLOSE_MARGIN_MS = 10_000

/**
 * The number of workers: `--workers N`, `--workers auto` (one per core), else WORKERS, else 1.
 * Absent means 1 so that existing deployments (and their memory budget) do not change on upgrade.
 */
export function resolveWorkers(flag: string | undefined, env: string | undefined): number {
  const value = flag ?? env ?? '1'
  if (value === 'auto') return Math.max(1, os.availableParallelism())
  if (!/^[1-9][0-9]{0,2}$/.test(value))
    throw new AppError('usage', `--workers must be a number of workers (1-999) or auto, not ${JSON.stringify(value)}`, {
      status: 400,
    })
  return Number(value)
}

/**
 * Refuses the configurations in which workers would not keep the guarantees of one process.
 * Without Redis, login lockout counters, API-key rate limits, the replay cache of signed API-key
 * requests and the security monitor's windows live in each process's memory: N workers would
 * allow N times the failed sign-ins before a lockout and accept a replayed request on another
 * worker. Embedded SQLite is one file with one writer at a time, and a busy write lock is waited
 * for synchronously (better-sqlite3), freezing the waiting worker: more processes add contention,
 * not throughput. Both are refused rather than half-working.
 */
export function checkClusterConfig(config: Readonly<Config>, workers: number) {
  if (workers <= 1) return
  if (config.embedded) {
    throw new AppError(
      'usage',
      `--workers ${workers} needs PostgreSQL and Redis (DATABASE_URL=postgresql://..., REDIS_URL=redis://...): with embedded SQLite, run one worker (omit --workers). SQLite takes one writer at a time, so more processes add lock contention, not throughput.`,
      { status: 400 },
    )
  }
  if (!config.REDIS_URL) {
    throw new AppError(
      'usage',
      `--workers ${workers} needs REDIS_URL: without Redis, sign-in lockout counters, API-key rate limits and the signed-request replay cache are kept per process, so each worker would count on its own. Set REDIS_URL, or run one worker (omit --workers).`,
      { status: 400 },
    )
  }
}

/**
 * Runs in the primary after migrations and bootstrap: forks the workers, restarts one that dies
 * unexpectedly (at most MAX_RESTARTS per RESTART_WINDOW_MS, then stops the rest and exits 1),
 * forwards SIGTERM/SIGINT as a graceful shutdown and exits 0 once every worker has exited 0.
 */
export function runPrimary(config: Readonly<Config>, workers: number, logger: Logger) {
  const log = logger.child({ role: 'primary', pid: process.pid })
  let stopping = false
  let failed = false
  const restarts: number[] = []
  const listening = new Set<number>()
  /** workers told to stop before they listened: ended by SIGTERM is a clean stop for them */
  const startingWhenStopped = new Set<number>()

  const fork = () => {
    const w = cluster.fork({ [WORKER_ENV]: '1' })
    w.on('listening', () => {
      listening.add(w.id)
      if (listening.size === workers)
        log.info(
          { workers: Object.values(cluster.workers ?? {}).map((x) => x?.process.pid), port: config.PORT },
          'portcullis workers listening',
        )
    })
    return w
  }

  // (exit codes are logged as `exitCode`: a top-level `code` is redacted as an authorization code)
  cluster.on('exit', (w: Worker, code: number | null, signal: string | null) => {
    listening.delete(w.id)
    if (stopping) {
      if (code !== 0 && !(startingWhenStopped.has(w.id) && signal === 'SIGTERM')) failed = true
      log.info({ worker: w.id, workerPid: w.process.pid, exitCode: code, signal }, 'worker stopped')
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0)
      return
    }
    const now = Date.now()
    while (restarts.length && now - restarts[0]! > RESTART_WINDOW_MS) restarts.shift()
    if (restarts.length >= MAX_RESTARTS) {
      log.fatal(
        {
          worker: w.id,
          workerPid: w.process.pid,
          exitCode: code,
          signal,
          restarts: restarts.length,
          windowSeconds: RESTART_WINDOW_MS / 1000,
        },
        'worker exited unexpectedly and workers keep dying; stopping',
      )
      failed = true
      shutdown('restart limit')
      return
    }
    restarts.push(now)
    const next = fork()
    log.error(
      {
        worker: w.id,
        workerPid: w.process.pid,
        exitCode: code,
        signal,
        replacement: next.id,
        replacementPid: next.process.pid,
      },
      'worker exited unexpectedly; started a replacement',
    )
  })

  let signals = 0
  function shutdown(reason: string) {
    stopping = true
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w))
    log.info({ reason, workers: alive.length }, 'stopping workers')
    if (!alive.length) process.exit(failed ? 1 : 0)
    // A message, not a signal: a terminal's Ctrl-C already reached each worker's process group,
    // and a second signal would make it stop at once instead of finishing its requests.
    for (const w of alive) {
      if (w.isConnected()) w.send({ portcullis: 'shutdown' })
      // One still loading its modules has no message listener yet: a signal reaches it anyway.
      if (!listening.has(w.id)) {
        startingWhenStopped.add(w.id)
        w.process.kill('SIGTERM')
      }
    }
    // Each worker waits SHUTDOWN_TIMEOUT for its requests, then up to 5 s for its connections.
    setTimeout(
      () => {
        log.error('workers did not stop in time; killing them')
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
        process.exit(1)
      },
      config.SHUTDOWN_TIMEOUT * 1000 + CLOSE_MARGIN_MS,
    ).unref()
  }
  const onSignal = (signal: NodeJS.Signals) => {
    if (signals++ > 0) {
      // a second signal: stop now
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL')
      process.exit(1)
    }
    log.info({ signal }, 'signal received')
    shutdown(signal)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  for (let i = 0; i < workers; i++) fork()
}

/** In a worker: the primary's shutdown message starts the same graceful stop as a signal. */
export function onPrimaryShutdown(stop: () => void) {
  process.on('message', (m: unknown) => {
    if ((m as { portcullis?: unknown })?.portcullis === 'shutdown') stop()
  })
}

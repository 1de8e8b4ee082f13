import http from 'node:http'
import type { Container } from './container.ts'
import { buildApp } from './app.ts'
import { decisionCalls } from './http/authz.ts'
import { decisionLane } from './http/decision-lane.ts'
import { startMetricsServer } from './metrics/routes.ts'

/**
 * Listens, and shuts down gracefully: on SIGTERM/SIGINT stop accepting, let in-flight requests
 * finish (up to SHUTDOWN_TIMEOUT), then close the database and Redis.
 */
export async function startServer(c: Container, opts: { port?: number; host?: string } = {}) {
  let shuttingDown = false
  const app = buildApp(c, { isShuttingDown: () => shuttingDown })
  const koa = app.callback()
  // Decision requests (AuthZEN, native check) take a lean path ahead of Koa; see decision-lane.ts.
  const lane = decisionLane({
    calls: decisionCalls(c.authz.decide),
    verifyAccessToken: c.verifyAccessToken,
    metrics: c.metrics,
    logger: c.logger,
    https: c.config.PUBLIC_URL.startsWith('https:'),
  })
  const server = http.createServer((req, res) => {
    if (!lane(req, res, koa)) void koa(req, res)
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? c.config.PORT, opts.host ?? c.config.HOST, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : c.config.PORT

  // METRICS_LISTEN: an unauthenticated /metrics on a separate (private) address.
  const metricsServer = c.config.METRICS_LISTEN ? await startMetricsServer(c.metrics, c.config.METRICS_LISTEN) : undefined
  // Periodic signed audit checkpoints and webhook delivery run in servers, not CLI commands.
  c.auditChain.startBackground()
  // Queued mail (password reset links, ...) is delivered by servers.
  c.startMail()

  // Other instances may rotate keys or register resources; pick them up without a restart.
  const keysTimer = setInterval(() => {
    c.refresh().catch((err) => c.logger.warn({ err }, 'provider refresh failed'))
  }, c.config.KEYS_REFRESH_INTERVAL * 1000)
  keysTimer.unref()

  async function close() {
    if (shuttingDown) return
    shuttingDown = true
    clearInterval(keysTimer)
    c.logger.info('shutting down: no new connections, finishing in-flight requests')
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    server.closeIdleConnections()
    const timeout = new Promise<void>((resolve) => setTimeout(() => {
      c.logger.warn('shutdown timeout reached; closing remaining connections')
      server.closeAllConnections()
      resolve()
    }, c.config.SHUTDOWN_TIMEOUT * 1000).unref())
    await Promise.race([closed, timeout])
    await metricsServer?.close()
    await c.close()
    c.logger.info('shutdown complete')
  }
  return { server, port, close, metricsPort: metricsServer?.port }
}

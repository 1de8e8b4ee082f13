import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import type { Container } from './container.ts'
import { buildApp } from './app.ts'
import { decisionRoutes } from './authz/routes.ts'
import { decisionLane } from './http/decision-lane.ts'
import { recordHttp } from './metrics/http.ts'
import { startMetricsServer } from './metrics/routes.ts'

/** How long a shutdown waits for the database and Redis connections to close. */
const CLOSE_DEPENDENCIES_MS = 5000

/**
 * Listens, and shuts down gracefully (see close()): on SIGTERM/SIGINT stop accepting, drain
 * keep-alive connections, let in-flight requests finish (up to SHUTDOWN_TIMEOUT), then close
 * the database and Redis.
 */
export async function startServer(c: Container, opts: { port?: number; host?: string } = {}) {
  let shuttingDown = false
  const app = buildApp(c, { isShuttingDown: () => shuttingDown })
  const koa = app.callback()
  // Decision requests (AuthZEN, native check) take a lean path ahead of Koa; see decision-lane.ts.
  const lane = decisionLane({
    routes: decisionRoutes(c.authz.decide),
    verifyAccessToken: c.verifyAccessToken,
    recordRequest: (method, route, status, seconds) => recordHttp(c.metrics, method, route, status, seconds),
    logger: c.logger,
    https: c.config.PUBLIC_URL.startsWith('https:') || Boolean(c.config.tls?.cert),
  })
  // Responses not yet started, so a shutdown can still ask for `Connection: close` on them.
  const inFlight = new Set<http.ServerResponse>()
  // Slow clients (slowloris): headers must arrive within HTTP_HEADERS_TIMEOUT and the whole
  // request within HTTP_REQUEST_TIMEOUT, else Node answers 408 and closes the connection; the
  // check runs every second, not Node's default 30 s. Idle keep-alive connections close after
  // HTTP_KEEPALIVE_TIMEOUT.
  const options: http.ServerOptions = {
    headersTimeout: c.config.HTTP_HEADERS_TIMEOUT * 1000,
    requestTimeout: c.config.HTTP_REQUEST_TIMEOUT * 1000,
    keepAliveTimeout: c.config.HTTP_KEEPALIVE_TIMEOUT * 1000,
    connectionsCheckingInterval: 1000,
  }
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (shuttingDown) res.setHeader('Connection', 'close')
    inFlight.add(res)
    res.once('close', () => inFlight.delete(res))
    if (!lane(req, res, koa)) void koa(req, res)
  }
  const tls = c.config.tls
  // TLS_CERT/TLS_KEY: the listener speaks HTTPS itself (TLS 1.3), and asks every client for a
  // certificate (RFC 8705) without requiring one, so browsers and plain clients still connect.
  // Node checks a presented certificate against TLS_CLIENT_CA; the result (socket.authorized)
  // is what tls_client_auth needs, while self_signed_tls_client_auth takes any certificate.
  const server: http.Server = tls?.cert
    ? (https.createServer(
        {
          ...options,
          cert: tls.cert,
          key: tls.key,
          minVersion: 'TLSv1.3',
          requestCert: true,
          rejectUnauthorized: false,
          ...(tls.ca ? { ca: tls.ca } : {}),
        },
        handle,
      ) as unknown as http.Server)
    : http.createServer(options, handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? c.config.PORT, opts.host ?? c.config.HOST, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : c.config.PORT

  // METRICS_LISTEN: an unauthenticated /metrics on a separate (private) address.
  const metricsServer = c.config.METRICS_LISTEN
    ? await startMetricsServer(c.metrics, c.config.METRICS_LISTEN)
    : undefined
  // Periodic signed audit checkpoints and webhook delivery run in servers, not CLI commands.
  c.auditChain.startBackground()
  // Queued mail (password reset links, ...) is delivered by servers.
  c.startMail()

  // Other instances may rotate keys or register resources; pick them up without a restart.
  const keysTimer = setInterval(() => {
    c.refresh().catch((err) => c.logger.warn({ err }, 'provider refresh failed'))
  }, c.config.KEYS_REFRESH_INTERVAL * 1000)
  keysTimer.unref()

  /**
   * Drains keep-alive connections (issue 16 §6): from now on every response carries
   * `Connection: close` (RFC 9112 §9.6), so its connection ends once it is sent; idle
   * connections are closed at once and again as in-flight responses finish; the listener stops
   * accepting. In-flight requests get SHUTDOWN_TIMEOUT to finish before the remaining connections
   * are cut; then the database and Redis are closed.
   */
  async function close() {
    if (shuttingDown) return
    shuttingDown = true
    clearInterval(keysTimer)
    // waiting SSF long polls (RFC 8936 §2.4) answer now instead of holding the shutdown
    c.ssf.release()
    c.logger.info({ inFlight: inFlight.size }, 'shutting down: no new connections, finishing in-flight requests')
    for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close')
    // Stop listening now (net's close: http's own would also close idle connections at once).
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()))
    // Close idle connections only after this turn of the event loop has read what already
    // arrived: a request a client sent before the signal, still unread in the socket, would
    // otherwise be cut (a reset) instead of answered. Then keep closing connections as they go
    // idle: a response whose headers were out before the shutdown leaves its connection open.
    const sweep = setInterval(() => server.closeIdleConnections(), 100)
    setImmediate(() => server.closeIdleConnections())
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        c.logger.warn({ inFlight: inFlight.size }, 'shutdown timeout reached; closing remaining connections')
        server.closeAllConnections()
        resolve()
      }, c.config.SHUTDOWN_TIMEOUT * 1000)
    })
    await Promise.race([closed, timeout])
    clearInterval(sweep)
    clearTimeout(timer)
    await metricsServer?.close()
    // A frozen database or Redis never acknowledges a goodbye: do not wait on it for ever.
    let closeTimer: NodeJS.Timeout | undefined
    const closedDeps = await Promise.race([
      c.close().then(() => true),
      new Promise<false>((resolve) => {
        closeTimer = setTimeout(() => resolve(false), CLOSE_DEPENDENCIES_MS)
      }),
    ])
    clearTimeout(closeTimer)
    if (!closedDeps) c.logger.warn('the database or Redis did not close in time; leaving their connections to the exit')
    c.logger.info('shutdown complete')
  }
  return { server, port, close, metricsPort: metricsServer?.port }
}

import http from 'node:http'
import Router from '@koa/router'
import type { Middleware } from 'koa'
import type { BearerScheme } from '../http/middleware/authn.ts'
import { defineRoute, mountRoutes, route, type Route } from '../http/contract.ts'
import type { Metrics } from './registry.ts'

export const metricsContract = defineRoute({
  operationId: 'metrics',
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  auth: { scopes: ['audit:read'], management: true },
  noStore: true,
  summary: 'Prometheus metrics (text exposition format)',
  description: 'Also served without authentication on METRICS_LISTEN, when that is set.',
  responses: { 200: { description: 'the metrics', media: ['text/plain; version=0.0.4'] } },
})

/**
 * GET /metrics on the main port: Prometheus text, for callers with scope audit:read (or admin),
 * by bearer access token or API key, from MANAGEMENT_ALLOWED_IPS when that is set.
 */
export function metricsRoutes(m: Metrics): Route[] {
  return [
    route(metricsContract, async (_input, ctx) => {
      const { contentType, body } = await m.scrape()
      ctx.type = contentType
      return body
    }),
  ]
}

export function metricsRouter(m: Metrics, bearerSchemes: readonly BearerScheme[], management?: Middleware) {
  return mountRoutes(new Router(), metricsRoutes(m), { bearerSchemes, management })
}

/**
 * METRICS_LISTEN (host:port): a separate, unauthenticated listener serving only /metrics, for
 * a Prometheus on a private network or loopback. Anything else is a 404.
 */
export async function startMetricsServer(m: Metrics, listen: string) {
  const i = listen.lastIndexOf(':')
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '') || '127.0.0.1'
  const port = Number(listen.slice(i + 1))
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    m.scrape().then(
      ({ contentType, body }) =>
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

import Router from '@koa/router'

export interface HealthDeps {
  /** Each check resolves when its dependency answers; names appear in the /readyz body. */
  checks: Record<string, () => Promise<void>>
  isShuttingDown: () => boolean
}

const withTimeout = (p: Promise<void>, ms: number) =>
  Promise.race([p, new Promise<void>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())])

/** /healthz: the process answers. /readyz: the database (and Redis) answer; 503 otherwise. */
export function healthRouter(deps: HealthDeps) {
  const router = new Router()
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { status: 'ok' }
  })
  router.get('/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store')
    const results: Record<string, string> = {}
    await Promise.all(
      Object.entries(deps.checks).map(async ([name, check]) => {
        try {
          await withTimeout(check(), 2000)
          results[name] = 'ok'
        } catch {
          results[name] = 'unavailable'
        }
      }),
    )
    const ready = !deps.isShuttingDown() && Object.values(results).every((v) => v === 'ok')
    ctx.status = ready ? 200 : 503
    ctx.body = { status: ready ? 'ready' : deps.isShuttingDown() ? 'shutting_down' : 'unavailable', checks: results }
  })
  return router
}

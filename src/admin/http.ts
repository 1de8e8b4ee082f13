import type { Context, Middleware } from 'koa'
import type { HttpSurface } from '../http/surface.ts'
import { adminRoutes, type AdminRouteDeps } from './routes.ts'
import { consoleRouter } from './console/routes.ts'
import { consoleService } from './console/service.ts'
import { consoleApi, type Dispatch } from './console/api.ts'
import { consoleSessions } from './console/session.ts'

type SessionDeps = Parameters<typeof consoleSessions>[0]

export interface AdminHttpDeps extends AdminRouteDeps {
  console: {
    /** the app's own request handler: the console's pages call the admin API through it */
    dispatch: () => Dispatch
    publicUrl: string
    redis: SessionDeps['redis']
    prefix: SessionDeps['prefix']
    payloads: SessionDeps['db']
    requireMfa: boolean
    clientIp: (ctx: Context) => string
    formGuard: Middleware
  }
}

/** The admin API (route contracts) and the admin console (issue 12 §3: pages over that API). */
export function adminHttp(deps: AdminHttpDeps): HttpSurface<'console'> {
  const c = deps.console
  return {
    routes: adminRoutes({ admin: deps.admin, management: deps.management }),
    pages: {
      console: consoleRouter({
        service: consoleService({
          api: consoleApi({ dispatch: () => c.dispatch(), publicUrl: c.publicUrl }),
          sessions: consoleSessions({ redis: c.redis, prefix: c.prefix, db: c.payloads }),
          publicUrl: c.publicUrl,
          requireMfa: c.requireMfa,
        }),
        clientIp: c.clientIp,
        formGuard: c.formGuard,
        secure: c.publicUrl.startsWith('https:'),
      }),
    },
  }
}

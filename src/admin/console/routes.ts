import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { AppError } from '../../errors.ts'
import { readForm } from '../../http/body.ts'
import { safeEqual } from '../../crypto/constant-time.ts'
import { html, type SafeHtml } from '../../views/html.ts'
import type { ApiAnswer } from './api.ts'
import { consolePage, plainPage } from './pages/layout.ts'
import { dashboardBody } from './pages/dashboard.ts'
import { ConsoleSignInError, type ConsoleService } from './service.ts'
import type { ConsoleSession } from './session.ts'
import { userRoutes } from './sections/users.ts'
import { clientRoutes } from './sections/clients.ts'
import { roleRoutes } from './sections/roles.ts'
import { accessRoutes } from './sections/access.ts'
import { auditRoutes } from './sections/audit.ts'
import { keyRoutes } from './sections/keys.ts'
import { platformRoutes } from './sections/platform.ts'

export interface ConsoleDeps {
  service: ConsoleService
  clientIp: (ctx: Context) => string
  /** http/cross-site.ts: refuses form posts from other sites */
  formGuard: Middleware
  /** https deployments get the __Host- cookie prefix and Secure */
  secure: boolean
}

/** What a section's handlers get: the operator's session and the API, and page helpers. */
export interface ConsoleKit {
  session(ctx: Context): ConsoleSession
  /** reads a form posted by the console and checks its CSRF token */
  form(ctx: Context): Promise<Record<string, string>>
  api<T = unknown>(
    ctx: Context,
    method: string,
    path: string,
    o?: { json?: unknown; ifMatch?: string },
  ): Promise<ApiAnswer<T>>
  render(ctx: Context, title: string, current: string, body: SafeHtml, status?: number): void
  /** after a POST: back to a page, with a notice shown once there (POST/redirect/GET) */
  done(ctx: Context, to: string, notice?: string): Promise<void>
  /** keeps a secret for the next page only */
  flash(ctx: Context, f: NonNullable<ConsoleSession['flash']>): Promise<void>
  takeFlash(ctx: Context): Promise<ConsoleSession['flash']>
}

// A notice lives in the console session until shown; long enough for a key rotation's four kids.
const NOTICE_MAX = 500
const assetsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'assets')
const htmxFile = createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js')

/**
 * The admin console at /admin (issue 12 §3): server-rendered pages over the admin API. Every
 * page needs a console session (a random id in an HttpOnly, SameSite=Strict cookie; the state
 * is on the server, session.ts); every form carries the session's CSRF token and passes the
 * cross-site guard. Sections (users, clients, roles) each add their routes through ConsoleKit;
 * a new admin API area becomes a new file in sections/ and a NAV entry.
 */
export function consoleRouter(deps: ConsoleDeps) {
  const router = new Router({ prefix: '/admin' })
  const { service } = deps
  const { cookie } = cookieNames(deps.secure)
  const ip = (ctx: Context) => deps.clientIp(ctx)

  mountAssets(router)
  mountSignIn(router, deps)

  // Everything below needs a console session.
  router.use(deps.formGuard)
  router.use(async (ctx, next) => {
    if (ctx.path.startsWith('/admin/v1/') || ctx.path === '/admin/v1') return next()
    const s = await service.sessions.find(ctx.cookies.get(cookie, { signed: false }) ?? undefined)
    if (!s) {
      if (ctx.method === 'GET' && !ctx.get('hx-request')) return ctx.redirect('/admin/login')
      throw new AppError('unauthorized', 'your console session ended; sign in again', { status: 401 })
    }
    ctx.state.console = s
    if (s.notice) {
      ctx.state.notice = s.notice
      await update(ctx, { notice: undefined })
    }
    try {
      await next()
    } catch (err) {
      // the token expired or was revoked mid-session: a page view signs in again
      if (err instanceof AppError && err.status === 401 && ctx.method === 'GET' && !ctx.get('hx-request'))
        return ctx.redirect('/admin/login')
      throw err
    }
  })

  /** Changes the session (in this request and in the store). */
  async function update(ctx: Context, patch: Partial<ConsoleSession>) {
    const next = { ...(ctx.state.console as ConsoleSession), ...patch }
    ctx.state.console = next
    await service.sessions.save(next)
  }

  const kit = consoleKit(service, ip, update)

  router.get('/', async (ctx) => {
    const s = kit.session(ctx)
    kit.render(ctx, 'Dashboard', '/admin', await dashboardBody(s, (p) => kit.api(ctx, 'GET', p)))
  })
  router.post('/logout', async (ctx) => {
    await kit.form(ctx)
    await service.sessions.end(kit.session(ctx).id)
    ctx.cookies.set(cookie, '', cookieOpts(deps.secure, 'strict', 0))
    ctx.status = 303
    ctx.redirect('/admin/signed-out')
  })
  // before users/clients: their POST /users/:id/:action would take /users/:id/contain
  accessRoutes(router, kit)
  userRoutes(router, kit)
  clientRoutes(router, kit)
  roleRoutes(router, kit)
  keyRoutes(router, kit)
  platformRoutes(router, kit)
  auditRoutes(router, kit)
  return router
}

const cookieNames = (secure: boolean) => ({
  cookie: secure ? '__Host-portcullis_console' : 'portcullis_console',
  loginCookie: secure ? '__Host-portcullis_console_login' : 'portcullis_console_login',
})
const cookieOpts = (secure: boolean, sameSite: 'strict' | 'lax', maxAge?: number) => ({
  httpOnly: true,
  secure,
  sameSite,
  path: '/',
  signed: false,
  overwrite: true,
  ...(maxAge !== undefined ? { maxAge } : {}),
})

const page = (ctx: Context, body: string, status = 200) => {
  ctx.set('Cache-Control', 'no-store')
  ctx.type = 'html'
  ctx.status = status
  ctx.body = body
}

/** The console's script and style sheet (htmx from its npm package: no CDN). */
function mountAssets(router: Router) {
  const assets = new Map<string, { body: Buffer; type: string }>([
    ['htmx.min.js', { body: fs.readFileSync(htmxFile), type: 'text/javascript; charset=utf-8' }],
    [
      'console.js',
      { body: fs.readFileSync(path.join(assetsDir, 'console.js')), type: 'text/javascript; charset=utf-8' },
    ],
    ['console.css', { body: fs.readFileSync(path.join(assetsDir, 'console.css')), type: 'text/css; charset=utf-8' }],
  ])
  router.get('/assets/:name', (ctx) => {
    const file = assets.get(ctx.params.name!)
    if (!file) return
    ctx.set('Cache-Control', 'public, max-age=3600')
    ctx.type = file.type
    ctx.body = file.body
  })
}

/** Sign-in through portcullis itself (the console is an OIDC client of its own server). */
function mountSignIn(router: Router, deps: ConsoleDeps) {
  const { service } = deps
  const { cookie, loginCookie } = cookieNames(deps.secure)
  router.get('/login', async (ctx) => {
    const { pendingId, url } = await service.startLogin()
    ctx.cookies.set(loginCookie, pendingId, cookieOpts(deps.secure, 'lax', 10 * 60_000))
    ctx.set('Cache-Control', 'no-store')
    ctx.redirect(url)
  })
  router.get('/callback', async (ctx) => {
    const q = Object.fromEntries(
      Object.entries(ctx.query).map(([k, v]) => [k, typeof v === 'string' ? v.slice(0, 2000) : undefined]),
    )
    const pendingId = ctx.cookies.get(loginCookie, { signed: false }) ?? undefined
    ctx.cookies.set(loginCookie, '', cookieOpts(deps.secure, 'lax', 0))
    try {
      const s = await service.finishLogin(q, pendingId, deps.clientIp(ctx))
      ctx.cookies.set(cookie, s.id, cookieOpts(deps.secure, 'strict', s.expiresAt - Date.now()))
      ctx.redirect('/admin')
    } catch (err) {
      if (!(err instanceof ConsoleSignInError)) throw err
      const body = html`<p role="alert">${err.message}</p><p><a href="${err.reason === 'not_admin' ? '/account' : '/admin/login'}">${err.reason === 'not_admin' ? 'Go to your account' : 'Sign in again'}</a></p>`
      page(ctx, plainPage(err.reason === 'not_admin' ? 'Not an administrator' : 'Sign-in failed', body), 403)
    }
  })
  router.get('/signed-out', (ctx) =>
    page(
      ctx,
      plainPage(
        'Signed out',
        html`<p>You signed out of the admin console.</p><p><a href="/admin">Sign in again</a></p>`,
      ),
    ),
  )
}

/** The helpers every section's handlers get (ConsoleKit). */
function consoleKit(
  service: ConsoleService,
  ip: (ctx: Context) => string,
  update: (ctx: Context, patch: Partial<ConsoleSession>) => Promise<void>,
): ConsoleKit {
  const kit: ConsoleKit = {
    session: (ctx) => ctx.state.console as ConsoleSession,
    async form(ctx) {
      const f = await readForm(ctx)
      if (!safeEqual(f.csrf ?? '', kit.session(ctx).csrf))
        throw new AppError('csrf', 'the form expired or was not sent by this site; reload the page and try again', {
          status: 403,
        })
      return f
    },
    async api(ctx, method, p, o) {
      const a = await service.call(kit.session(ctx), ip(ctx), method, p, o)
      if (a.status === 401) {
        await service.sessions.end(kit.session(ctx).id)
        throw new AppError('unauthorized', 'your console session ended; sign in again', { status: 401 })
      }
      return a as ApiAnswer<never>
    },
    render(ctx, title, current, body, status = 200) {
      const s = kit.session(ctx)
      const notice = ctx.state.notice as string | undefined
      page(ctx, consolePage({ title, current, email: s.email, can: s.can, csrf: s.csrf, notice }, body), status)
    },
    async done(ctx, to, notice) {
      if (notice) await update(ctx, { notice: notice.slice(0, NOTICE_MAX) })
      ctx.status = 303
      ctx.redirect(to)
    },
    flash: (ctx, f) => update(ctx, { flash: f }),
    async takeFlash(ctx) {
      const { flash } = kit.session(ctx)
      if (flash) await update(ctx, { flash: undefined })
      return flash
    },
  }
  return kit
}

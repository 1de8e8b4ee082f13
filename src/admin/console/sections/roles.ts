import type Router from '@koa/router'
import { messageOf } from '../api.ts'
import type { ConsoleKit } from '../routes.ts'
import { rolesBody } from '../pages/roles.ts'

const enc = encodeURIComponent

/** Admin roles: grant and revoke (each a new version of the `system` policy store). */
export function roleRoutes(router: Router, kit: ConsoleKit) {
  router.get('/roles', (ctx) =>
    kit.render(
      ctx,
      'Admin roles',
      '/admin/roles',
      rolesBody(kit.session(ctx).csrf, {}, kit.session(ctx).can.roles ? undefined : 'You may not grant admin roles.'),
    ),
  )
  router.post('/roles', async (ctx) => {
    const f = await kit.form(ctx)
    const role = f.role ?? ''
    const member = `user:${(f.email ?? '').trim()}`
    const a =
      f.op === 'revoke'
        ? await kit.api<{ changed: boolean }>(ctx, 'DELETE', `/admin/v1/roles/${enc(role)}/members/${enc(member)}`)
        : await kit.api<{ changed: boolean }>(ctx, 'POST', `/admin/v1/roles/${enc(role)}/members`, {
            json: { member, ...(f.reason?.trim() ? { reason: f.reason.trim() } : {}) },
          })
    if (a.status !== 200)
      return kit.render(ctx, 'Admin roles', '/admin/roles', rolesBody(kit.session(ctx).csrf, f, messageOf(a)), a.status)
    const verb = f.op === 'revoke' ? 'revoked from' : 'granted to'
    await kit.done(ctx, '/admin/roles', a.body.changed ? `${role} ${verb} ${f.email}.` : 'Nothing changed.')
  })
}

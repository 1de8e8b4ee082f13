import type { Context } from 'koa'
import { signedOutPage } from '../../views/account.ts'
import { accountErrors } from '../errors.ts'
import type { AccountService } from '../service.ts'
import { seeOther, sendPage, type PageStep, type SignedIn } from '../page-kit.ts'
import { idOf } from './factors.ts'

/** The user's sign-in sessions: end one, sign out here, sign out everywhere. */
export function sessionSteps(deps: { account: AccountService; clearCookie: string }): PageStep[] {
  const signOut = (everywhere: boolean) => async (ctx: Context, req: SignedIn) => {
    await deps.account.signOut(req.user, req.s.id, everywhere, req.meta)
    ctx.append('Set-Cookie', deps.clearCookie)
    sendPage(ctx, signedOutPage(everywhere))
  }
  return [
    {
      method: 'post',
      path: '/sessions/:id/revoke',
      handle: async (ctx, req) => {
        const id = idOf(ctx)
        if (!id || !(await deps.account.revokeSession(req.user, id, req.meta))) throw accountErrors.noSession()
        seeOther(ctx, id === req.s.id ? '/account' : '/account?done=revoked')
      },
    },
    { method: 'post', path: '/logout', handle: signOut(false) },
    { method: 'post', path: '/sessions/revoke-all', handle: signOut(true) },
  ]
}

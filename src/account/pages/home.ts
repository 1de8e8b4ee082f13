import type { Context } from 'koa'
import { accountPage, type AccountView } from '../../views/account.ts'
import { t } from '../../views/i18n.ts'
import type { AccountService } from '../service.ts'
import { sendPage, type PageStep, type SignedIn } from '../page-kit.ts'

// Catalogue keys (views/i18n.ts) of the notice each `?done=` shows after a change.
const NOTICES: Record<string, string> = {
  password: 'account.notice.password',
  totp: 'account.notice.totp',
  passkey: 'account.notice.passkey',
  removed: 'account.notice.removed',
  renamed: 'account.notice.renamed',
  revoked: 'account.notice.revoked',
  profile: 'account.notice.profile',
  verify_sent: 'account.notice.verifySent',
  verify_limited: 'account.notice.verifyLimited',
  verified: 'account.notice.verified',
  change_sent: 'account.notice.changeSent',
}

/** The account page (`GET /account`), and the same page again with a form's errors. */
export function homePage(deps: { account: AccountService; minLength: number }) {
  async function render(ctx: Context, req: SignedIn, extra: Partial<AccountView> = {}, status = 200) {
    const { factors, recoveryLeft, sessions, events } = await deps.account.overview(req.user.id)
    const view: AccountView = {
      csrf: req.csrf,
      user: req.user,
      factors,
      recoveryLeft,
      minLength: deps.minLength,
      sessions: sessions.map((x) => ({
        id: x.id,
        current: x.id === req.s.id,
        userAgent: x.userAgent,
        ip: x.ip,
        createdAt: x.createdAt,
        lastSeenAt: x.lastSeenAt,
        amr: x.amr,
      })),
      events: events.map((e) => ({
        time: e.time,
        action: e.action,
        outcome: e.outcome,
        ip: e.ip,
        details: parseDetails(e.details),
      })),
      ...extra,
    }
    sendPage(ctx, accountPage(view), status)
  }

  const step: PageStep = {
    method: 'get',
    path: '/',
    handle: async (ctx, req) => {
      const done = ctx.query.done
      const key = typeof done === 'string' && Object.hasOwn(NOTICES, done) ? NOTICES[done] : undefined
      await render(ctx, req, key ? { notice: t(key) } : {})
    },
  }
  return { step, render }
}
export type HomePage = ReturnType<typeof homePage>

function parseDetails(d: unknown): Record<string, unknown> {
  if (d && typeof d === 'object') return d as Record<string, unknown>
  try {
    return typeof d === 'string' ? (JSON.parse(d) as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

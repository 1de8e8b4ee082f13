import type { Context } from 'koa'
import type { UserRecord } from '../../identity/queries.ts'
import { ACR_MFA, ACR_PWD } from '../../identity/mfa.ts'
import { stepAfterFirstFactor } from './next-step.ts'
import type { Interaction, PageKit, Pending } from './kit.ts'

/** The two moves every step ends with: on to the next step, or finish the sign-in. */
export function signInSequence(kit: PageKit) {
  const { deps, login, meta } = kit

  /**
   * Ends the interaction with a login. A new sign-in session (and cookie) is issued here, after
   * every factor, and the one the browser had is retired: no session fixation. oidc-provider
   * rotates its own session id at the same moment.
   */
  async function finish(
    ctx: Context,
    interaction: Interaction,
    user: { id: string; email: string },
    amr: string[],
    json = false,
  ) {
    const acr = amr.includes('mfa') ? ACR_MFA : ACR_PWD
    const old = ctx.cookies.get(login.cookie.name, { signed: false })
    if (old) await login.sessions.endByToken(old)
    const m = meta(ctx)
    const { token, record } = await login.sessions.create({
      userId: user.id,
      amr,
      acr,
      ip: m.ip,
      userAgent: m.userAgent,
    })
    ctx.append('Set-Cookie', login.cookie.header(token))
    if (deps.notices)
      ctx.append(
        'Set-Cookie',
        deps.notices.signedIn(ctx.cookies.get(deps.notices.cookieName, { signed: false }) ?? undefined, user.id, m),
      )
    await deps.audit.record({
      action: 'login',
      outcome: 'success',
      actor: user.id,
      target: user.email,
      details: {
        method: amr.filter((a) => a !== 'mfa').join('+'),
        amr,
        acr,
        client_id: interaction.params.client_id,
        session: record.id.slice(0, 12),
      },
      ...meta(ctx),
    })
    // A resolved prompt=create (steps/create.ts) is carried along: without it the request would ask again.
    const created = (interaction.lastSubmission as { create?: unknown } | undefined)?.create
    const result = {
      login: { accountId: user.id, amr, acr, ts: Math.floor(Date.now() / 1000) },
      ...(created ? { create: created } : {}),
    }
    if (json) {
      const redirect = await deps
        .provider()
        .interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { redirect }
      return
    }
    await deps.provider().interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: false })
    ctx.respond = false
  }

  /** Moves to the next step of a sign-in whose first factor was accepted (next-step.ts decides). */
  async function next(ctx: Context, interaction: Interaction, user: UserRecord, amr: string[], json = false) {
    // the facts are looked up only where they can still matter (a second factor already used
    // makes both moot; an enrolled factor makes the demand moot)
    const mfaDone = amr.includes('mfa')
    const hasFactor = !mfaDone && (await login.mfa.hasFactor(user.id))
    const mfaDemanded = !mfaDone && !hasFactor && Boolean(await kit.demanded(interaction))
    const step = stepAfterFirstFactor({ user, amr, hasFactor, mfaDemanded })
    if (step === 'finish') return finish(ctx, interaction, user, amr, json)
    interaction.result = { pending: { accountId: user.id, email: user.email, amr, step } satisfies Pending }
    await interaction.persist()
    if (step === 'verify_email')
      void deps.audit.record({
        action: 'login',
        outcome: 'failure',
        actor: user.id,
        target: user.email,
        details: { reason: 'email_not_verified', client_id: interaction.params.client_id },
        ...meta(ctx),
      })
    if (step === 'mfa')
      void deps.audit.record({
        action: 'mfa.challenge',
        outcome: 'info',
        actor: user.id,
        target: user.email,
        details: { client_id: interaction.params.client_id },
        ...meta(ctx),
      })
    const url = `/interaction/${interaction.uid}`
    if (json) {
      ctx.body = { redirect: url }
      return
    }
    ctx.status = 303
    ctx.redirect(url)
  }

  return { finish, next }
}
export type StepKit = PageKit & ReturnType<typeof signInSequence>

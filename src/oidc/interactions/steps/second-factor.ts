import type { Context } from 'koa'
import { lockedMessage, mfaPage } from '../mfa-views.ts'
import { pendingOf, sleep, type Interaction, type PageKit, type StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'
import { checkTotp } from './totp.ts'
import { checkRecoveryCode, recoveryDetails } from './recovery-code.ts'

/** The second-factor page: the factors the user has, and an error under the form that failed. */
export async function renderMfa(
  kit: PageKit,
  ctx: Context,
  interaction: Interaction,
  userId: string,
  errors: { error?: string; recoveryError?: string } = {},
) {
  const factors = await kit.login.mfa.list(userId)
  kit.noStore(ctx)
  ctx.body = mfaPage({
    uid: interaction.uid,
    csrf: kit.csrfFor(interaction.uid),
    hasTotp: factors.some((f) => f.type === 'totp'),
    hasPasskey: factors.some((f) => f.type === 'webauthn'),
    notice: await kit.demanded(interaction),
    email: pendingOf(interaction)?.email,
    ...errors,
  })
}

/** Second factor: a TOTP code or a recovery code. Wrong codes count towards the lockout. */
export function secondFactorStep(kit: StepKit): StepRoute[] {
  const { deps, login } = kit
  return [
    {
      method: 'post',
      path: '/:uid/mfa',
      input: 'form',
      async handle(ctx, interaction, form) {
        const { pending, user } = await kit.pendingUser(interaction, 'mfa')
        const method = form.method === 'recovery' ? 'recovery' : 'totp'
        const code = (form.code ?? '').slice(0, 64)
        const m = kit.meta(ctx)
        const errorOf = (message: string) => (method === 'totp' ? { error: message } : { recoveryError: message })
        const verdict = await login.lockout.attempt(user.email, m.ip, m)
        if (!verdict.allowed) {
          await deps.audit.record({
            action: 'mfa.verify',
            outcome: 'failure',
            actor: user.id,
            target: user.email,
            details: { reason: 'locked', method },
            ...m,
          })
          ctx.status = 429
          ctx.set('Retry-After', String(verdict.retryAfter))
          return renderMfa(kit, ctx, interaction, user.id, errorOf(lockedMessage(verdict.retryAfter)))
        }
        const r =
          method === 'totp' ? await checkTotp(login, user.id, code) : await checkRecoveryCode(login, user.id, code)
        if (!r.ok) {
          await deps.audit.record({
            action: 'mfa.verify',
            outcome: 'failure',
            actor: user.id,
            target: user.email,
            details: { method, reason: r.reason },
            ...m,
          })
          await sleep(login.lockout.delayAfter(verdict.failures))
          ctx.status = 401
          return renderMfa(kit, ctx, interaction, user.id, errorOf(r.message))
        }
        await login.lockout.succeeded(user.email, m.ip)
        await deps.audit.record({
          action: 'mfa.verify',
          outcome: 'success',
          actor: user.id,
          target: user.email,
          details: { method, ...(method === 'recovery' ? await recoveryDetails(login, user.id) : {}) },
          ...m,
        })
        // A recovery code is a one-time password (NIST SP 800-63B "look-up secret"): amr `otp`.
        await kit.finish(ctx, interaction, user, [...pending.amr, 'otp', 'mfa'])
      },
    },
  ]
}

import { t } from '../../../views/i18n.ts'
import { verifyFirstPage } from '../../../views/registration.ts'
import type { StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/** Verify-your-email-first (issue 14 §4): resend the link, or continue once it was followed. */
export function verifyEmailStep(kit: StepKit): StepRoute[] {
  const { deps } = kit
  return [
    {
      method: 'post',
      path: '/:uid/verify/resend',
      input: 'form',
      async handle(ctx, interaction) {
        const { pending, user } = await kit.pendingUser(interaction, 'verify_email')
        const r = deps.verification ? await deps.verification.send(user, kit.meta(ctx)) : { retryAfter: 1 }
        kit.noStore(ctx)
        if (r.retryAfter) ctx.status = 429
        ctx.body = verifyFirstPage({
          uid: interaction.uid,
          csrf: kit.csrfFor(interaction.uid),
          email: pending.email,
          notice: r.retryAfter ? t('register.resendLimited') : t('register.resent'),
        })
      },
    },
    {
      method: 'post',
      path: '/:uid/verify/continue',
      input: 'form',
      async handle(ctx, interaction) {
        const { pending, user } = await kit.pendingUser(interaction, 'verify_email')
        if (!user.emailVerified) {
          kit.noStore(ctx)
          ctx.status = 400
          ctx.body = verifyFirstPage({
            uid: interaction.uid,
            csrf: kit.csrfFor(interaction.uid),
            email: pending.email,
            notice: t('register.notVerifiedYet'),
          })
          return
        }
        await kit.next(ctx, interaction, user, pending.amr)
      },
    },
  ]
}

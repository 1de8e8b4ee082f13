import { passwordProblems } from '../../../identity/password-policy.ts'
import { t } from '../../../views/i18n.ts'
import { changePasswordPage } from '../views.ts'
import type { StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/** A password that must be replaced before the sign-in goes on (e.g. the generated first admin password). */
export function passwordChangeStep(kit: StepKit): StepRoute[] {
  const { deps } = kit
  return [
    {
      method: 'post',
      path: '/:uid/password',
      input: 'form',
      async handle(ctx, interaction, form) {
        const { pending, user } = await kit.pendingUser(interaction, 'password_change')
        const next_ = form.new_password ?? ''
        const errors = passwordProblems(next_, {
          minLength: deps.passwordMinLength,
          email: user.email,
          userInputs: user.name ? [user.name] : [],
        })
        if (next_ !== (form.confirm_password ?? '')) errors.push(t('password.mismatch'))
        if (!errors.length && user.passwordHash && (await deps.users.login(user.email, next_)).ok)
          errors.push(t('password.sameAsCurrent'))
        if (errors.length) {
          kit.noStore(ctx)
          ctx.status = 400
          ctx.body = changePasswordPage({
            uid: interaction.uid,
            csrf: kit.csrfFor(interaction.uid),
            errors,
            minLength: deps.passwordMinLength,
          })
          return
        }
        const updated = await deps.users.setPassword(
          user.id,
          next_,
          deps.audit.with(() => ({
            action: 'password.changed',
            outcome: 'success',
            actor: user.id,
            target: user.id,
            details: { reason: 'required at sign-in' },
            ...kit.meta(ctx),
          })),
        )
        await kit.next(ctx, interaction, updated, pending.amr)
      },
    },
  ]
}

import { AppError } from '../../../errors.ts'
import type { StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/**
 * "Sign in as someone else" (consent page, second-factor page). Nothing ends here: on a login
 * step the half-done sign-in is dropped and the login form comes back; on the consent page
 * the interaction finishes with `switchAccount`, so the request asks for a login again
 * (login-policy.ts). When another account then signs in, oidc-provider ends the current
 * session first — exactly as for prompt=login — and cancelling keeps it.
 */
export function switchAccountStep(kit: StepKit): StepRoute[] {
  return [
    {
      method: 'post',
      path: '/:uid/switch',
      input: 'form',
      async handle(ctx, interaction) {
        if (interaction.prompt.name === 'login') {
          interaction.result = { switchAccount: true }
          await interaction.persist()
          ctx.status = 303
          ctx.redirect(`/interaction/${interaction.uid}`)
          return
        }
        if (interaction.prompt.name !== 'consent' || !interaction.session?.accountId)
          throw new AppError('wrong_step', 'nobody is signed in in this step', { status: 400 })
        await kit.deps
          .provider()
          .interactionFinished(ctx.req, ctx.res, { switchAccount: true }, { mergeWithLastSubmission: false })
        ctx.respond = false
      },
    },
  ]
}

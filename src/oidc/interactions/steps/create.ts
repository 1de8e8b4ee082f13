import type { Context } from 'koa'
import { withUiLocales } from '../../../views/i18n.ts'
import type { Interaction, PageKit } from '../kit.ts'

/**
 * Prompt Create 1.0: the sign-up page first; its "Back to sign in" (`?signin=1`) resolves the
 * prompt, and the request goes on to the sign-in page. Nothing is granted here.
 */
export async function createPrompt(kit: PageKit, ctx: Context, interaction: Interaction, resolve: boolean) {
  if (resolve) {
    await kit.deps
      .provider()
      .interactionFinished(ctx.req, ctx.res, { create: { shown: true } }, { mergeWithLastSubmission: true })
    ctx.respond = false
    return
  }
  ctx.status = 303
  ctx.redirect(withUiLocales(`/register?interaction=${interaction.uid}`))
}

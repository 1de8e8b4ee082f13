import type { InteractionHooks } from '../../../federation/routes.ts'
import type { Interaction } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/**
 * Federation hand-off (issue 14 §6): the upstream sign-in routes (federation/routes.ts) are
 * mounted on the interaction router with these hooks, and continue like after a first factor.
 */
export function federationHooks(kit: StepKit): InteractionHooks {
  return {
    details: kit.details,
    csrfFor: kit.csrfFor,
    checkCsrf: kit.checkCsrf,
    meta: kit.meta,
    next: (ctx, interaction, user, amr) => kit.next(ctx, interaction as Interaction, user, amr),
  }
}

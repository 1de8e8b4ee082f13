import type { StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/** "Cancel": the request ends with access_denied at the client (RFC 6749 §4.1.2.1). */
export function abortStep(kit: StepKit): StepRoute[] {
  return [
    {
      method: 'post',
      path: '/:uid/abort',
      input: 'form',
      async handle(ctx) {
        await kit.deps.provider().interactionFinished(
          ctx.req,
          ctx.res,
          {
            error: 'access_denied',
            error_description: 'the user cancelled the request',
          },
          { mergeWithLastSubmission: false },
        )
        ctx.respond = false
      },
    },
  ]
}

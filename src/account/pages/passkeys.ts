import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { z } from 'zod'
import { readJson } from '../../http/body.ts'
import { accountErrors } from '../errors.ts'
import type { AccountService } from '../service.ts'
import type { PageStep } from '../page-kit.ts'

const registrationBody = z.object({
  name: z.string().max(64).optional(),
  credential: z
    .object({
      id: z.string().min(1).max(1024),
      rawId: z.string().max(1024),
      type: z.literal('public-key'),
      response: z.record(z.string(), z.unknown()),
    })
    .passthrough(),
})

/**
 * Passkey enrolment, called by the page's script (JSON, CSRF token in `X-CSRF-Token`):
 * `POST /account/passkeys/options` starts the WebAuthn ceremony, `POST /account/passkeys`
 * registers the authenticator's answer.
 */
export function passkeySteps(deps: { account: AccountService }): PageStep[] {
  const { enrolment } = deps.account
  return [
    {
      method: 'post',
      path: '/passkeys/options',
      csrf: 'header',
      handle: async (ctx, req) => {
        ctx.body = await enrolment.passkeyOptions(req.s, req.user)
      },
    },
    {
      method: 'post',
      path: '/passkeys',
      csrf: 'header',
      handle: async (ctx, req) => {
        const parsed = registrationBody.safeParse(await readJson(ctx, 64 * 1024))
        if (!parsed.success) throw accountErrors.passkeyBody()
        const credential = parsed.data.credential as unknown as RegistrationResponseJSON
        const { first } = await enrolment.registerPasskey(
          req.s,
          req.user,
          { credential, ...(parsed.data.name !== undefined ? { name: parsed.data.name } : {}) },
          req.meta,
        )
        // The first factor comes with recovery codes: the page offers to generate them.
        ctx.body = { redirect: first ? '/account?done=passkey#mfa-h' : '/account?done=passkey' }
      },
    },
  ]
}

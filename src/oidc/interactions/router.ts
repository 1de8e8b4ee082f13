import Router from '@koa/router'
import { mountSteps, pageKit, type InteractionDeps } from './kit.ts'
import { signInSequence, type StepKit } from './sequence.ts'
import { showStep } from './steps/show.ts'
import { passwordStep } from './steps/password.ts'
import { verifyEmailStep } from './steps/verify-email.ts'
import { passwordChangeStep } from './steps/password-change.ts'
import { secondFactorStep } from './steps/second-factor.ts'
import { passkeySecondFactorStep, passkeyStep } from './steps/passkey.ts'
import { enrolStep } from './steps/enrol.ts'
import { consentStep } from './steps/consent.ts'
import { switchAccountStep } from './steps/switch-account.ts'
import { abortStep } from './steps/abort.ts'
import { federationHooks } from './steps/federation.ts'

export type { InteractionDeps }

/**
 * The login, second-factor and consent pages oidc-provider sends the user agent to
 * (`/interaction/:uid`), one file per step under steps/; which step comes next is decided by
 * next-step.ts alone. Each form carries a CSRF token bound to the interaction (HMAC of its uid);
 * the interaction itself is also bound to a cookie by oidc-provider. JSON endpoints (the passkey
 * ceremony) take the same token in the X-CSRF-Token header. The toolkit (kit.ts) is applied to
 * every step's routes in one place.
 */
export function interactionRouter(deps: InteractionDeps) {
  const router = new Router({ prefix: '/interaction' })
  router.use(deps.formGuard)
  const base = pageKit(deps)
  const kit: StepKit = { ...base, ...signInSequence(base) }
  mountSteps(router, kit, [
    ...showStep(kit), // GET: the page of the current step
    ...passwordStep(kit), // first factor: email and password
    ...verifyEmailStep(kit), // a self-registered address not verified yet
    ...passwordChangeStep(kit), // a password that must be replaced
    ...secondFactorStep(kit), // TOTP or a recovery code
    ...passkeySecondFactorStep(kit), // a passkey as the second factor
    ...passkeyStep(kit), // a passkey as the only factor
    ...enrolStep(kit), // forced enrolment (TOTP or passkey), then the recovery codes
    ...consentStep(kit),
    ...switchAccountStep(kit),
    ...abortStep(kit),
  ])
  // federation (issue 14 §6): upstream sign-in continues here like after a first factor
  deps.federation?.mount(router, federationHooks(kit))
  return router
}

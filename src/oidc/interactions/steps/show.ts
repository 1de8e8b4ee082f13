import { AppError } from '../../../errors.ts'
import { t } from '../../../views/i18n.ts'
import { verifyFirstPage } from '../../../views/registration.ts'
import { changePasswordPage, loginPage } from '../views.ts'
import { pageStep, type LoginPage } from '../next-step.ts'
import { pendingOf, switchingOf, type Interaction, type StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'
import type { Context } from 'koa'
import { renderMfa } from './second-factor.ts'
import { renderCodes, renderEnrol } from './enrol.ts'
import { grantConsent, renderConsent, skipsConsent } from './consent.ts'
import { createPrompt } from './create.ts'

/** The sign-in form (the first factor: password, passkey, or an upstream provider). */
async function renderLogin(kit: StepKit, ctx: Context, interaction: Interaction, page: LoginPage) {
  const { uid, params } = interaction
  ctx.body = loginPage({
    uid,
    csrf: kit.csrfFor(uid),
    registration: kit.deps.registration,
    clientName: await kit.clientName(params.client_id),
    email: typeof params.login_hint === 'string' ? params.login_hint : undefined,
    notice: page.notice ? t(page.notice === 'mfaRequired' ? 'login.mfaRequired' : 'login.sessionEnded') : undefined,
    signedInAs: page.showSignedInAs ? await kit.sessionEmail(interaction) : undefined,
    providers: await kit.deps.federation?.buttons(),
  })
}

/** `GET /interaction/:uid`: the page of the step the interaction is at (next-step.ts decides which). */
export function showStep(kit: StepKit): StepRoute[] {
  return [
    {
      method: 'get',
      path: '/:uid',
      input: 'page',
      async handle(ctx, interaction) {
        const { uid, prompt } = interaction
        kit.noStore(ctx)
        const pending = pendingOf(interaction)
        const page = pageStep({
          prompt: { name: prompt.name, reasons: (prompt.reasons as string[] | undefined) ?? [] },
          pending: pending?.step,
          switching: switchingOf(interaction),
          session: interaction.session as { accountId?: string; amr?: string[] } | undefined,
          backToSignIn: ctx.query.signin === '1',
          skipsConsent: prompt.name === 'consent' && (await skipsConsent(kit, interaction)),
        })
        switch (page.step) {
          case 'verify_email':
            ctx.body = verifyFirstPage({ uid, csrf: kit.csrfFor(uid), email: pending!.email })
            return
          case 'password_change':
            ctx.body = changePasswordPage({ uid, csrf: kit.csrfFor(uid), minLength: kit.deps.passwordMinLength })
            return
          case 'mfa':
            return renderMfa(kit, ctx, interaction, pending!.accountId)
          case 'enrol':
            return renderEnrol(kit, ctx, interaction, pending!)
          case 'codes':
            return renderCodes(kit, ctx, interaction, pending!)
          case 'create':
            return createPrompt(kit, ctx, interaction, page.resolve)
          case 'step_up': {
            const user = await kit.deps.users.findById(page.accountId)
            if (user && !user.disabled) return kit.next(ctx, interaction, user, page.amr)
            return renderLogin(kit, ctx, interaction, page.otherwise)
          }
          case 'login':
            return renderLogin(kit, ctx, interaction, page)
          case 'consent':
            if (page.skip) return grantConsent(kit, ctx, interaction, interaction.session!.accountId, true)
            return renderConsent(kit, ctx, interaction)
          case 'unsupported':
            throw new AppError('unsupported_prompt', `unsupported interaction prompt ${prompt.name}`, { status: 400 })
        }
      },
    },
  ]
}

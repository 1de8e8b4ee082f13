import type { Context } from 'koa'
import { AppError } from '../../../errors.ts'
import { passkeyAmr } from '../../../identity/mfa.ts'
import { t } from '../../../views/i18n.ts'
import { codesPage, enrolPage } from '../mfa-views.ts'
import type { Interaction, PageKit, Pending, StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'
import { parseRegistration, passkeyOptions, takeChallenge } from './passkey.ts'

/** The enrolment page: a QR code for a TOTP secret kept (sealed) in the pending sign-in. */
export async function renderEnrol(
  kit: PageKit,
  ctx: Context,
  interaction: Interaction,
  pending: Pending,
  error?: string,
) {
  const { login } = kit
  // A new secret on first display; the same one while the user is typing codes.
  let secret: string
  if (pending.totp) secret = login.mfa.openPending(pending.totp, interaction.uid)
  else {
    secret = (await login.mfa.startTotp(pending.email)).secret
    interaction.result = { pending: { ...pending, totp: login.mfa.sealPending(secret, interaction.uid) } }
    await interaction.persist()
  }
  const enrol = await login.mfa.totpQr(secret, pending.email)
  kit.noStore(ctx)
  ctx.body = enrolPage({
    uid: interaction.uid,
    csrf: kit.csrfFor(interaction.uid),
    qr: enrol.qr,
    secret,
    error,
    reason: (await kit.demanded(interaction)) ?? t('mfa.required'),
  })
}

/** The recovery codes page; after a passkey enrolment the codes come here, once. */
export async function renderCodes(kit: PageKit, ctx: Context, interaction: Interaction, pending: Pending) {
  const { uid } = interaction
  // After a passkey enrolment the codes come here, once: the script followed a redirect.
  const codes = pending.codes ? (JSON.parse(kit.login.mfa.openPending(pending.codes, uid)) as string[]) : undefined
  if (codes) {
    interaction.result = { pending: { ...pending, codes: undefined } }
    await interaction.persist()
  }
  ctx.body = codesPage({ uid, csrf: kit.csrfFor(uid), codes })
}

/**
 * Forced enrolment (MFA required, none set up): confirm a new TOTP secret with a code, or
 * register a passkey; then the recovery codes, and continue finishes the sign-in.
 */
export function enrolStep(kit: StepKit): StepRoute[] {
  const { deps, login } = kit
  return [
    {
      method: 'post',
      path: '/:uid/enrol',
      input: 'form',
      async handle(ctx, interaction, form) {
        const { pending, user } = await kit.pendingUser(interaction, 'enrol')
        if (!pending.totp) throw new AppError('wrong_step', 'reload the page to get a new key', { status: 400 })
        const secret = login.mfa.openPending(pending.totp, interaction.uid)
        // the factor and its record commit together (db/audited.ts); the recovery codes follow
        const factor = await login.mfa.confirmTotp(
          user.id,
          secret,
          form.code ?? '',
          'Authenticator app',
          deps.audit.with((f) => ({
            action: 'mfa.enrolled',
            outcome: 'success',
            actor: user.id,
            target: user.id,
            details: { type: 'totp', factor: f.id, forced: true },
            ...kit.meta(ctx),
          })),
        )
        if (!factor) {
          ctx.status = 400
          return renderEnrol(kit, ctx, interaction, pending, t('enrol.codeWrong'))
        }
        const codes = await login.mfa.regenerateRecoveryCodes(user.id)
        interaction.result = {
          pending: {
            accountId: user.id,
            email: user.email,
            amr: [...pending.amr, 'otp', 'mfa'],
            step: 'codes',
          } satisfies Pending,
        }
        await interaction.persist()
        kit.noStore(ctx)
        ctx.body = codesPage({ uid: interaction.uid, csrf: kit.csrfFor(interaction.uid), codes })
      },
    },
    // Forced enrolment with a passkey instead: register one, then the recovery codes page.
    passkeyOptions(kit, '/:uid/enrol/passkey/options', 'enrol', (user) => login.mfa.registrationOptions(user)),
    {
      method: 'post',
      path: '/:uid/enrol/passkey',
      input: 'json',
      async handle(ctx, interaction) {
        const { pending, user } = await kit.pendingUser(interaction, 'enrol')
        const { name, credential } = await parseRegistration(ctx)
        const challenge = await takeChallenge(interaction, pending)
        let factor
        try {
          factor = await login.mfa.verifyRegistration(
            user.id,
            credential,
            challenge,
            name,
            deps.audit.with((f) => ({
              action: 'mfa.enrolled',
              outcome: 'success',
              actor: user.id,
              target: user.id,
              details: { type: 'webauthn', factor: f.id, forced: true },
              ...kit.meta(ctx),
            })),
          )
        } catch (err) {
          await deps.audit.record({
            action: 'mfa.enrolled',
            outcome: 'failure',
            actor: user.id,
            target: user.id,
            details: { type: 'webauthn', forced: true, reason: (err as Error).message.slice(0, 200) },
            ...kit.meta(ctx),
          })
          throw new AppError('passkey_rejected', t('mfa.passkeyNotRegistered'), { status: 400 })
        }
        const codes = await login.mfa.regenerateRecoveryCodes(user.id)
        // Registering proved possession of the new authenticator: it counts as the second factor.
        interaction.result = {
          pending: {
            accountId: user.id,
            email: user.email,
            amr: [...pending.amr, passkeyAmr(factor.deviceType), 'mfa'],
            step: 'codes',
            codes: login.mfa.sealPending(JSON.stringify(codes), interaction.uid),
          } satisfies Pending,
        }
        await interaction.persist()
        ctx.set('Cache-Control', 'no-store')
        ctx.body = { redirect: `/interaction/${interaction.uid}` }
      },
    },
    {
      method: 'post',
      path: '/:uid/continue',
      input: 'form',
      async handle(ctx, interaction) {
        const { pending, user } = await kit.pendingUser(interaction, 'codes')
        await kit.finish(ctx, interaction, user, pending.amr)
      },
    },
  ]
}

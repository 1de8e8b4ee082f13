import type { Context } from 'koa'
import { z } from 'zod'
import { readJson } from '../../../http/body.ts'
import { AppError } from '../../../errors.ts'
import type { UserRecord } from '../../../identity/queries.ts'
import { t } from '../../../views/i18n.ts'
import type { PendingStep } from '../next-step.ts'
import type { Interaction, Pending, PageKit, StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

const credentialBody = z.object({
  name: z.string().trim().max(64).optional(),
  credential: z
    .object({
      id: z.string().min(1).max(1024),
      rawId: z.string().max(1024),
      type: z.literal('public-key'),
      response: z.record(z.string(), z.unknown()),
    })
    .passthrough(),
})

export const parseCredential = async (ctx: Context) => {
  const parsed = credentialBody.safeParse(await readJson(ctx, 64 * 1024))
  if (!parsed.success)
    throw new AppError('invalid_request', 'expected {"credential": PublicKeyCredential JSON}', { status: 400 })
  return parsed.data.credential as never
}
export const parseRegistration = async (ctx: Context) => {
  const parsed = credentialBody.safeParse(await readJson(ctx, 64 * 1024))
  if (!parsed.success)
    throw new AppError('invalid_request', 'expected {"name", "credential": PublicKeyCredential JSON}', {
      status: 400,
    })
  return { name: parsed.data.name || 'Passkey', credential: parsed.data.credential as never }
}

/** The first half of a passkey ceremony at `step`: options, their challenge kept in the pending sign-in. */
export const passkeyOptions = (
  kit: PageKit,
  path: string,
  step: PendingStep,
  make: (user: UserRecord) => Promise<{ challenge: string }>,
): StepRoute => ({
  method: 'post',
  path,
  input: 'json',
  async handle(ctx, interaction) {
    const { pending, user } = await kit.pendingUser(interaction, step)
    const options = await make(user)
    interaction.result = { pending: { ...pending, challenge: options.challenge } }
    await interaction.persist()
    ctx.set('Cache-Control', 'no-store')
    ctx.body = options
  },
})

/** The pending challenge, taken: single-use whatever the outcome of the ceremony. */
export async function takeChallenge(interaction: Interaction, pending: Pending) {
  if (!pending.challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
  interaction.result = { pending: { ...pending, challenge: undefined } }
  await interaction.persist()
  return pending.challenge
}

/** Passkey as the second factor. */
export function passkeySecondFactorStep(kit: StepKit): StepRoute[] {
  const { deps, login } = kit
  return [
    passkeyOptions(kit, '/:uid/mfa/passkey/options', 'mfa', (user) => login.mfa.authenticationOptions(user.id)),
    {
      method: 'post',
      path: '/:uid/mfa/passkey',
      input: 'json',
      async handle(ctx, interaction) {
        const { pending, user } = await kit.pendingUser(interaction, 'mfa')
        const credential = await parseCredential(ctx)
        const challenge = await takeChallenge(interaction, pending)
        const r = await login.mfa.verifyAuthentication(credential, challenge, {
          userId: user.id,
          requireUserVerification: false,
        })
        if (!r.ok) {
          await deps.audit.record({
            action: 'mfa.verify',
            outcome: 'failure',
            actor: user.id,
            target: user.email,
            details: { method: 'webauthn', reason: r.reason },
            ...kit.meta(ctx),
          })
          throw new AppError('passkey_rejected', t('mfa.passkeyRejected'), { status: 401 })
        }
        await deps.audit.record({
          action: 'mfa.verify',
          outcome: 'success',
          actor: user.id,
          target: user.email,
          details: { method: 'webauthn' },
          ...kit.meta(ctx),
        })
        await kit.finish(ctx, interaction, user, [...pending.amr, r.amr, 'mfa'], true)
      },
    },
  ]
}

/**
 * Passkey as the first (and only) factor: a discoverable credential with user verification
 * is something you have plus something you know/are, so the sign-in counts as MFA.
 */
export function passkeyStep(kit: StepKit): StepRoute[] {
  const { deps, login } = kit
  const assertLogin = (interaction: Interaction) => {
    if (interaction.prompt.name !== 'login')
      throw new AppError('wrong_step', 'this sign-in step is already complete', { status: 400 })
  }
  return [
    {
      method: 'post',
      path: '/:uid/passkey/options',
      input: 'json',
      async handle(ctx, interaction) {
        assertLogin(interaction)
        const options = await login.mfa.authenticationOptions()
        interaction.result = { passkeyChallenge: options.challenge }
        await interaction.persist()
        ctx.set('Cache-Control', 'no-store')
        ctx.body = options
      },
    },
    {
      method: 'post',
      path: '/:uid/passkey',
      input: 'json',
      async handle(ctx, interaction) {
        assertLogin(interaction)
        const credential = await parseCredential(ctx)
        const challenge = (interaction.result as { passkeyChallenge?: string } | undefined)?.passkeyChallenge
        if (!challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
        interaction.result = {}
        await interaction.persist()
        const r = await login.mfa.verifyAuthentication(credential, challenge, { requireUserVerification: true })
        const user = r.ok ? await deps.users.findById(r.userId) : null
        if (!r.ok || !user || user.disabled) {
          await deps.audit.record({
            action: 'login',
            outcome: 'failure',
            actor: user?.id ?? null,
            target: user?.email ?? null,
            details: {
              reason: r.ok ? 'disabled' : r.reason,
              method: 'webauthn',
              client_id: interaction.params.client_id,
            },
            ...kit.meta(ctx),
          })
          throw new AppError('passkey_rejected', t('mfa.passkeyRejectedFirst'), { status: 401 })
        }
        await kit.next(ctx, interaction, user, [r.amr, 'mfa'], true)
      },
    },
  ]
}

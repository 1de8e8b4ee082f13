import type { Context } from 'koa'
import { AppError } from '../../../errors.ts'
import { t } from '../../../views/i18n.ts'
import { loginPage } from '../views.ts'
import { lockedMessage } from '../mfa-views.ts'
import { sleep, type Interaction, type StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

/** The sign-in form again, with what went wrong. */
async function failed(
  kit: StepKit,
  ctx: Context,
  interaction: Interaction,
  email: string,
  status: number,
  error: string,
) {
  kit.noStore(ctx)
  ctx.status = status
  ctx.body = loginPage({
    uid: interaction.uid,
    csrf: kit.csrfFor(interaction.uid),
    registration: kit.deps.registration,
    clientName: await kit.clientName(interaction.params.client_id),
    email,
    error,
    providers: await kit.deps.federation?.buttons(),
  })
}

/** First factor: email and password, counted towards the lockout. */
export function passwordStep(kit: StepKit): StepRoute[] {
  const { deps, login } = kit
  return [
    {
      method: 'post',
      path: '/:uid/login',
      input: 'form',
      async handle(ctx, interaction, form) {
        if (interaction.prompt.name !== 'login')
          throw new AppError('wrong_step', 'this sign-in step is already complete', { status: 400 })
        const email = (form.email ?? '').trim().slice(0, 320)
        const password = (form.password ?? '').slice(0, 1024)
        const m = kit.meta(ctx)
        const fail = (status: number, error: string) => failed(kit, ctx, interaction, email, status, error)
        if (!email || !password) {
          await deps.audit.record({
            action: 'login',
            outcome: 'failure',
            target: email.toLowerCase() || null,
            details: { reason: 'missing_credentials', method: 'pwd', client_id: interaction.params.client_id },
            ...m,
          })
          return fail(400, t('login.missing'))
        }
        // One attempt is reserved before the password is checked (atomic, so parallel guesses
        // cannot exceed the limit); locked accounts are refused without evaluating anything.
        const verdict = await login.lockout.attempt(email, m.ip, m)
        if (!verdict.allowed) {
          await deps.audit.record({
            action: 'login',
            outcome: 'failure',
            target: email.toLowerCase(),
            details: { reason: 'locked', scope: verdict.scope, method: 'pwd', client_id: interaction.params.client_id },
            ...m,
          })
          ctx.set('Retry-After', String(verdict.retryAfter))
          return fail(429, lockedMessage(verdict.retryAfter))
        }
        const result = await deps.users.login(email, password)
        if (!result.ok) {
          await deps.audit.record({
            action: 'login',
            outcome: 'failure',
            actor: result.user?.id ?? null,
            target: email.toLowerCase(),
            details: { reason: result.reason, method: 'pwd', client_id: interaction.params.client_id },
            ...m,
          })
          await sleep(login.lockout.delayAfter(verdict.failures))
          const left = await login.lockout.remaining(email)
          // One message for every failure: never tell whether the account exists.
          return fail(
            401,
            left === 0 ? lockedMessage(login.lockout.options.lockoutSeconds) : t('login.wrongCredentials'),
          )
        }
        await login.lockout.succeeded(email, m.ip)
        await kit.next(ctx, interaction, result.user, ['pwd'])
      },
    },
  ]
}

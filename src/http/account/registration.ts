import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { z } from 'zod'
import { readForm } from '../body.ts'
import { sendLinkPage } from '../page.ts'
import type { RegistrationService } from '../../identity/registration.ts'
import type { SignupChallenge } from '../../identity/signup-challenge.ts'
import type { AuditLog } from '../../audit/log.ts'
import { t } from '../../views/i18n.ts'
import { registeredPage, registerPage, type RegisterView } from '../../views/registration.ts'

export interface RegistrationRouteDeps {
  registration: RegistrationService
  /** against automated sign-ups: the built-in proof of work, or a deployment's own */
  challenge: SignupChallenge
  audit: AuditLog
  product: string
  clientIp: (ctx: Context) => string
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
}

// Printable text only: NUL, other control characters and lone surrogates never reach storage.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const printable = (s: string) => !/[\u0000-\u001f\u007f]/.test(s) && !LONE_SURROGATE.test(s)
// The messages are catalogue keys (views/i18n.ts), translated where they are shown.
const emailField = z
  .string()
  .trim()
  .min(1, 'form.emailMissing')
  .max(320, 'form.emailTooLong')
  .refine(printable, 'form.emailInvalid')
  .pipe(z.email('form.emailInvalid'))
const nameField = z.string().trim().max(200, 'register.nameTooLong').refine(printable, 'register.nameControlChars')
const passwordField = z.string().max(1024, 'form.passwordTooLong').refine(printable, 'password.controlChars')
const interactionUid = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .optional()
  .catch(undefined)

/**
 * Self-registration pages (issue 14 §4): `GET /register` shows the form, `POST /register` takes
 * it. Both are 404 while REGISTRATION_ENABLED is off. The answer to a good form is the same
 * page whether or not the address already had an account (identity/registration.ts). Posts are
 * limited per IP (rate-limit class `signup`), per address (silently), and need the answer to the
 * anti-automation challenge. `?interaction=` keeps the way back to the sign-in it started from.
 */
export function registrationRouter(deps: RegistrationRouteDeps) {
  const router = new Router()
  router.use('/register', deps.formGuard)
  const { registration: reg } = deps
  const meta = (ctx: Context) => ({
    ip: deps.clientIp(ctx),
    userAgent: ctx.get('user-agent') || null,
    requestId: ctx.state.requestId as string,
  })
  const view = (extra: Partial<RegisterView>): RegisterView => {
    const c = deps.challenge.issue()
    return {
      product: deps.product,
      minLength: reg.options.minLength,
      challenge: c.fields,
      scripts: c.scripts,
      domains: reg.options.allowedDomains,
      ...extra,
    }
  }

  router.get('/register', (ctx) => {
    if (!reg.options.enabled) return
    sendLinkPage(ctx, registerPage(view({ interaction: interactionUid.parse(ctx.query.interaction) })))
  })

  router.post('/register', async (ctx) => {
    if (!reg.options.enabled) return
    const form = await readForm(ctx)
    const interaction = interactionUid.parse(form.interaction)
    const typedEmail = typeof form.email === 'string' && printable(form.email) ? form.email.slice(0, 320) : ''
    const typedName = typeof form.name === 'string' && printable(form.name) ? form.name.slice(0, 200) : ''
    const again = (errors: RegisterView['errors']) =>
      sendLinkPage(ctx, registerPage(view({ interaction, email: typedEmail, name: typedName, errors })), 400)
    const email = emailField.safeParse(form.email ?? '')
    const name = nameField.safeParse(form.name ?? '')
    const password = passwordField.safeParse(form.new_password ?? '')
    if (!email.success || !name.success || !password.success) {
      return again({
        email: email.success ? undefined : t(email.error.issues[0]!.message),
        password: password.success ? undefined : t(password.error.issues[0]!.message),
        form: name.success ? undefined : t(name.error.issues[0]!.message),
      })
    }
    if (password.data !== (form.confirm_password ?? '')) return again({ password: t('password.mismatch') })
    const m = meta(ctx)
    if (!(await deps.challenge.verify(form, m))) {
      await deps.audit.record({
        action: 'user.registered',
        outcome: 'failure',
        target: email.data.toLowerCase(),
        details: { reason: 'challenge_failed', challenge: deps.challenge.name },
        ...m,
      })
      return again({ form: t('register.challengeFailed') })
    }
    const r = reg.register({ email: email.data, password: password.data, name: name.data || undefined }, m)
    if (!r.ok) return again(r.field === 'email' ? { email: r.problems.join(' ') } : { password: r.problems.join(' ') })
    sendLinkPage(ctx, registeredPage({ email: email.data, interaction }))
  })

  return router
}

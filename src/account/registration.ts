import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import { readForm } from '../http/body.ts'
import type { RegistrationService } from '../identity/registration.ts'
import type { SignupChallenge } from '../identity/signup-challenge.ts'
import { t } from '../views/i18n.ts'
import { registeredPage, registerPage, type RegisterView } from '../views/registration.ts'
import { emailField, interactionUid, passwordField, printable, typedBack } from './form-fields.ts'
import { linkPageHeaders, requestMeta, sendPage } from './page-kit.ts'
import { z } from 'zod'

export interface RegistrationRouteDeps {
  registration: RegistrationService
  /** against automated sign-ups: the built-in proof of work, or a deployment's own */
  challenge: SignupChallenge
  product: string
  clientIp: (ctx: Context) => string
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
}

// The message is a catalogue key (views/i18n.ts), translated where it is shown.
const nameField = z.string().trim().max(200, 'register.nameTooLong').refine(printable, 'register.nameControlChars')

/**
 * Self-registration pages (issue 14 §4): `GET /register` shows the form, `POST /register` takes
 * it. Both are 404 while REGISTRATION_ENABLED is off. The answer to a good form is the same
 * page whether or not the address already had an account (identity/registration.ts). Posts are
 * limited per IP (rate-limit class `signup`), per address (silently), and need the answer to the
 * anti-automation challenge. `?interaction=` keeps the way back to the sign-in it started from.
 */
export function registrationRouter(deps: RegistrationRouteDeps) {
  const router = new Router()
  router.use('/register', deps.formGuard, linkPageHeaders)
  const { registration: reg } = deps
  const meta = requestMeta(deps.clientIp)
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
    sendPage(ctx, registerPage(view({ interaction: interactionUid.parse(ctx.query.interaction) })))
  })

  router.post('/register', async (ctx) => {
    if (!reg.options.enabled) return
    const form = await readForm(ctx)
    const interaction = interactionUid.parse(form.interaction)
    const typed = { email: typedBack(form.email, 320), name: typedBack(form.name, 200) }
    const again = (errors: RegisterView['errors']) =>
      sendPage(ctx, registerPage(view({ interaction, ...typed, errors })), 400)
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
      await reg.challengeFailed(email.data, deps.challenge.name, m)
      return again({ form: t('register.challengeFailed') })
    }
    const r = reg.register({ email: email.data, password: password.data, name: name.data || undefined }, m)
    if (!r.ok) return again(r.field === 'email' ? { email: r.problems.join(' ') } : { password: r.problems.join(' ') })
    sendPage(ctx, registeredPage({ email: email.data, interaction }))
  })

  return router
}

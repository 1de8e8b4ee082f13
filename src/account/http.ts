import type { HttpSurface } from '../http/surface.ts'
import { accountRouter, type AccountDeps } from './routes.ts'
import { passwordResetRouter, type PasswordResetDeps } from './password-reset.ts'
import { emailVerificationRouter } from './email-links.ts'
import { registrationRouter, type RegistrationRouteDeps } from './registration.ts'

type EmailLinkDeps = Parameters<typeof emailVerificationRouter>[0]

/** The account's pages: the account itself, password reset, email links and self-registration. */
export function accountHttp(deps: {
  account: AccountDeps
  passwordReset: PasswordResetDeps
  emailLinks: EmailLinkDeps
  registration: RegistrationRouteDeps
}): HttpSurface<'account' | 'passwordReset' | 'emailLinks' | 'registration'> {
  return {
    pages: {
      account: accountRouter(deps.account),
      passwordReset: passwordResetRouter(deps.passwordReset),
      emailLinks: emailVerificationRouter(deps.emailLinks),
      registration: registrationRouter(deps.registration),
    },
  }
}

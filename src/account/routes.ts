import Router from '@koa/router'
import type { Context, Middleware } from 'koa'
import type { UserService } from '../identity/users.ts'
import type { AuditLog } from '../audit/log.ts'
import type { StrongLogin } from '../identity/strong-login.ts'
import type { ApiKeyService } from '../apikeys/service.ts'
import type { EmailVerificationService } from '../identity/email-verification.ts'
import { accountService } from './service.ts'
import { pageKit } from './page-kit.ts'
import { homePage } from './pages/home.ts'
import { signInSteps } from './pages/sign-in.ts'
import { profileStep } from './pages/profile.ts'
import { passwordStep } from './pages/password.ts'
import { totpSteps } from './pages/totp.ts'
import { passkeySteps } from './pages/passkeys.ts'
import { factorSteps } from './pages/factors.ts'
import { sessionSteps } from './pages/sessions.ts'
import { emailSteps } from './pages/email.ts'
import { keySteps } from './pages/keys.ts'

export interface AccountDeps {
  users: UserService
  audit: AuditLog
  login: StrongLogin
  clientIp: (ctx: Context) => string
  csrfKey: Buffer
  passwordMinLength: number
  publicUrl: string
  /** personal API keys at /account/keys (apikeys/) */
  apikeys?: ApiKeyService
  /** refuses form posts from other sites (http/cross-site.ts) */
  formGuard: Middleware
  /** "verify your email" (identity/email-verification.ts) */
  verification?: EmailVerificationService
}

/**
 * The account pages (`/account`): the user's own profile, password, second factors, sign-in
 * sessions, email address, API keys and security events. They sit behind a live sign-in session
 * (the `portcullis_sid` cookie, see identity/sessions.ts); without one the browser is sent
 * through the normal OIDC login first (pages/sign-in.ts). The page kit (page-kit.ts) is applied
 * once, to every step: CSRF token bound to the session on every post, `no-store` on every
 * answer, the request's metadata for the audit records. The steps, in the order they are tried:
 */
export function accountRouter(deps: AccountDeps) {
  const router = new Router({ prefix: '/account' })
  router.use(deps.formGuard)
  const { login } = deps
  const kit = pageKit({
    users: deps.users,
    sessions: login.sessions,
    cookieName: login.cookie.name,
    clientIp: deps.clientIp,
    csrfKey: deps.csrfKey,
    signInPath: '/account/login',
  })
  const account = accountService({
    users: deps.users,
    audit: deps.audit,
    login,
    passwordMinLength: deps.passwordMinLength,
  })
  const home = homePage({ account, minLength: deps.passwordMinLength })
  return kit.mountPages(router, [
    home.step,
    ...signInSteps({ publicUrl: deps.publicUrl, signedIn: kit.session }),
    profileStep({ account, home }),
    passwordStep({ account, home }),
    ...totpSteps({ account }),
    ...passkeySteps({ account }),
    ...factorSteps({ account, home }),
    ...sessionSteps({ account, clearCookie: login.cookie.header(null) }),
    ...(deps.verification ? emailSteps({ account, verification: deps.verification, home }) : []),
    ...(deps.apikeys ? keySteps({ apikeys: deps.apikeys, account, mfa: login.mfa }) : []),
  ])
}

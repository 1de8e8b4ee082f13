/**
 * What comes next in a sign-in: pure functions of the interaction's state, no I/O. The routes
 * (steps/) gather the facts, ask here, and carry the answer out. One place to read the sign-in
 * sequence, with a table of its own in test/oidc/unit/next-step.test.ts.
 */
import { ACCOUNT_SWITCH } from '../login-policy.ts'

/**
 * A sign-in that passed its first factor but has a step left (kept in the interaction, which
 * oidc-provider stores server-side and binds to a cookie):
 * - verify_email: a self-registered account whose address is not verified yet: nothing is
 *   issued until it is (a page with "send the link again" and "continue");
 * - password_change: the password must be replaced (e.g. the generated first admin password);
 * - mfa: the user has a second factor and must use one;
 * - enrol: MFA is required (administrator or client) and the user has none yet: set up TOTP;
 * - codes: enrolment done, recovery codes shown; continue finishes the sign-in.
 */
export type PendingStep = 'verify_email' | 'password_change' | 'mfa' | 'enrol' | 'codes'

/** A first factor (password, passkey, upstream provider) was accepted: what the account still needs. */
export interface AfterFirstFactor {
  user: { mustVerifyEmail: boolean; emailVerified: boolean; mustChangePassword: boolean }
  /** RFC 8176 values of the factors used so far (`mfa` once there were two, or a passkey) */
  amr: readonly string[]
  /** the user has a second factor enrolled (TOTP or passkey) */
  hasFactor: boolean
  /** MFA is required for this sign-in: for everyone (administrator), or by the client (require_mfa, acr) */
  mfaDemanded: boolean
}

/** The step after a first factor, or `finish` (issue the login). */
export function stepAfterFirstFactor(s: AfterFirstFactor): PendingStep | 'finish' {
  if (s.user.mustVerifyEmail && !s.user.emailVerified) return 'verify_email'
  // only after a password: a sign-in without one (passkey, upstream) has no password to replace
  if (s.user.mustChangePassword && s.amr.includes('pwd')) return 'password_change'
  if (!s.amr.includes('mfa') && s.hasFactor) return 'mfa'
  if (!s.amr.includes('mfa') && s.mfaDemanded) return 'enrol'
  return 'finish'
}

/** What `GET /interaction/:uid` knows when it is asked for the current page. */
export interface InteractionState {
  /** oidc-provider's prompt: `login`, `consent`, `create`, and why it was asked (`reasons`) */
  prompt: { name: string; reasons: readonly string[] }
  /** the step a sign-in past its first factor waits at */
  pending?: PendingStep
  /** the user chose "Sign in as someone else" on a page of this interaction */
  switching: boolean
  /** the live sign-in session this interaction runs in, if any */
  session?: { accountId?: string; amr?: readonly string[] }
  /** prompt=create: the sign-up page's "Back to sign in" (`?signin=1`) */
  backToSignIn: boolean
  /** prompt=consent for a first-party client that skips the consent page (steps/consent.ts) */
  skipsConsent: boolean
}

/** the sign-in form, with the notice saying why it is asked */
export interface LoginPage {
  step: 'login'
  notice?: 'mfaRequired' | 'sessionEnded'
  /** name the account of the live session (a sign-in here ends it) */
  showSignedInAs: boolean
}

export type PageStep =
  | { step: PendingStep }
  /** Prompt Create 1.0: the sign-up page, or (`resolve`) on to the sign-in page */
  | { step: 'create'; resolve: boolean }
  /**
   * a live session short of only its second factor: continue after its first factor (the
   * `otherwise` page when the session's account is gone or disabled)
   */
  | { step: 'step_up'; accountId: string; amr: string[]; otherwise: LoginPage }
  | LoginPage
  | { step: 'consent'; skip: boolean }
  | { step: 'unsupported' }

/** The page (or the step without one) the interaction is at. */
export function pageStep(s: InteractionState): PageStep {
  const { prompt } = s
  if (prompt.name === 'login' && s.pending) return { step: s.pending }
  if (prompt.name === 'create') return { step: 'create', resolve: s.backToSignIn }
  if (prompt.name === 'login') {
    const { reasons } = prompt
    // After "Sign in as someone else" the login form is shown whatever the reasons were.
    const switching = s.switching || reasons.includes(ACCOUNT_SWITCH)
    const login: LoginPage = {
      step: 'login',
      notice: switching
        ? undefined
        : reasons.includes('mfa_required')
          ? 'mfaRequired'
          : reasons.includes('portcullis_session')
            ? 'sessionEnded'
            : undefined,
      // A live session of another account: say whose, and that a sign-in here ends it.
      showSignedInAs: !reasons.includes('portcullis_session'),
    }
    // Step-up: a live sign-in session (its own checks passed) whose only shortcoming is the
    // missing second factor. The password was verified when the session began, so only the
    // second factor is asked, as Keycloak's step-up does. Any other reason (prompt=login,
    // max_age, an ended session, ...) means a full sign-in.
    const session = s.session
    if (
      !switching &&
      reasons.length === 1 &&
      reasons[0] === 'mfa_required' &&
      session?.accountId &&
      session.amr?.length
    ) {
      const amr = session.amr.filter((a) => a !== 'mfa')
      return { step: 'step_up', accountId: session.accountId, amr, otherwise: login }
    }
    return login
  }
  if (prompt.name === 'consent') return { step: 'consent', skip: s.skipsConsent }
  return { step: 'unsupported' }
}

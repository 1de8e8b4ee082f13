import { AppError, type ErrorCatalogue } from '../errors.ts'

/** Sign-in through an upstream identity provider. */
export const FEDERATION_ERRORS = {
  federation_unknown_provider: { status: 404, meaning: 'no such (enabled) upstream identity provider' },
  federation_unavailable: {
    status: 503,
    expose: true,
    meaning: 'the upstream identity provider cannot be reached; try later or sign in another way',
  },
} as const satisfies ErrorCatalogue

/**
 * The error codes of sign-in through an upstream identity provider. Messages are for the person
 * signing in; the audit record carries the precise reason.
 */
export const federationErrors = {
  unknownProvider: () =>
    new AppError('federation_unknown_provider', 'this sign-in option is not available', { status: 404 }),
  wrongStep: () => new AppError('wrong_step', 'this sign-in step is not active; start again', { status: 400 }),
  unreachable: (name: string, cause?: unknown) =>
    new AppError(
      'federation_unavailable',
      `${name} cannot be reached right now; try again later or sign in another way`,
      { status: 503, expose: true, cause },
    ),
}

/** Why an upstream sign-in was refused: the audit reason and what the person is told. */
export type RefusalReason =
  | 'upstream_error'
  | 'state_mismatch'
  | 'nonce_mismatch'
  | 'invalid_response'
  | 'no_subject'
  | 'no_email'
  | 'email_unverified'
  | 'domain_not_allowed'
  | 'creation_disabled'
  | 'linking_disabled'
  | 'disabled'
  | 'provider_disabled'

/**
 * English, for logs and the Error's message; the page shows `federation.refused.<reason>` from the catalogues
 * (views/i18n.ts).
 */
export const REFUSAL_MESSAGES: Record<RefusalReason, string> = {
  upstream_error: 'The identity provider did not sign you in.',
  state_mismatch: 'The answer from the identity provider does not belong to this sign-in. Start again.',
  nonce_mismatch: 'The answer from the identity provider does not belong to this sign-in. Start again.',
  invalid_response: 'The identity provider sent an answer that could not be verified.',
  no_subject: 'The identity provider did not say who you are.',
  no_email: 'The identity provider did not share your email address, which is needed to sign in.',
  email_unverified:
    'The identity provider has not confirmed your email address. Confirm it there, or sign in with your password.',
  domain_not_allowed: 'Accounts with this email domain cannot sign in this way.',
  creation_disabled: 'No account here is linked to that identity. Sign in with your password first.',
  linking_disabled: 'An account with this email already exists. Sign in with your password.',
  disabled: 'This account is disabled. Contact your administrator.',
  provider_disabled: 'This sign-in option is not available.',
}

export class FederationRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly detail?: string,
  ) {
    super(REFUSAL_MESSAGES[reason])
    this.name = 'FederationRefused'
  }
}

import type { ErrorCatalogue } from '../errors.ts'

/** Sign-in interactions (oidc-provider renders its own OAuth errors, RFC 6749 §5.2). */
export const OIDC_ERRORS = {
  unsupported_prompt: { status: 400, meaning: 'the sign-in asked for an interaction portcullis does not offer' },
} as const satisfies ErrorCatalogue

/**
 * The authentication context classes portcullis signs people in with (OpenID Connect Core §2,
 * the `acr` claim): the one definition every feature imports. A client asks for the second
 * one with `acr_values` (OIDC Core §3.1.2.1) to require a second factor (step-up).
 */
export const ACR = {
  /** a password (or an upstream identity provider) only */
  pwd: 'urn:portcullis:acr:pwd',
  /** a password and a second factor, or a passkey with user verification */
  mfa: 'urn:portcullis:acr:mfa',
} as const

export type Acr = (typeof ACR)[keyof typeof ACR]
export const ACR_PWD = ACR.pwd
export const ACR_MFA = ACR.mfa
/** What the provider advertises as `acr_values_supported`, weakest first. */
export const ACR_VALUES: readonly Acr[] = [ACR_PWD, ACR_MFA]

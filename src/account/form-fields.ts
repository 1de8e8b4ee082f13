import { z } from 'zod'

// Printable text only: NUL, other control characters and lone surrogates never reach storage or a lookup.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
export const printable = (s: string) => !/[\u0000-\u001f\u007f]/.test(s) && !LONE_SURROGATE.test(s)

/** What the user typed, to show in the form again: printable and at most `max` characters, else empty. */
export const typedBack = (v: unknown, max: number) => (typeof v === 'string' && printable(v) ? v.slice(0, max) : '')

// The messages are catalogue keys (views/i18n.ts), translated where they are shown.
/** An email address field; `missing` is the message when it is empty. */
export const emailFieldOf = (missing: string) =>
  z
    .string()
    .trim()
    .min(1, missing)
    .max(320, 'form.emailTooLong')
    .refine(printable, 'form.emailInvalid')
    .pipe(z.email('form.emailInvalid'))
export const emailField = emailFieldOf('form.emailMissing')
export const passwordField = z.string().max(1024, 'form.passwordTooLong').refine(printable, 'password.controlChars')

/** `?interaction=`: the sign-in a page was reached from (kept for the way back), when well-formed. */
export const interactionUid = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .optional()
  .catch(undefined)

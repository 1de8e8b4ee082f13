import { createRequire } from 'node:module'
import type { ZxcvbnFactory } from '@zxcvbn-ts/core'
import { isBreached } from './breached-passwords.ts'
import { currentLocale, t } from '../views/i18n.ts'

/**
 * Password rules after NIST SP 800-63B §5.1.1.2: a minimum length, a maximum of 128, no
 * composition rules, and refused when the password is
 * - in the bundled list of common/breached passwords (breached-passwords.ts),
 * - rated weak by the zxcvbn-ts strength estimator (score below 3 of 4: "safely unguessable"
 *   needs about 10^8 guesses and more), with the user's email and name as context,
 * - or contains the local part of the account's email.
 * Returns human-readable problems (empty when acceptable).
 */
export interface PasswordPolicyOptions {
  minLength: number
  email?: string
  /** other words about the user (name) the estimator should treat as guessable */
  userInputs?: string[]
}

export const MAX_PASSWORD_LENGTH = 128
/** zxcvbn scores are 0..4; 3 means "safely unguessable: moderate protection from offline attacks". */
export const MIN_ZXCVBN_SCORE = 3

let zxcvbn: ZxcvbnFactory | undefined
/**
 * Loaded on the first password that is set, not at start (issue 16 §7: idle memory and start to
 * ready): the estimator's dictionaries are about 50 MB of resident memory and a server that
 * only issues tokens never needs them. `require` keeps passwordProblems synchronous; the first
 * call pays the load (a fraction of a second) once.
 */
const estimator = () => {
  if (zxcvbn) return zxcvbn
  const require = createRequire(import.meta.url)
  const { ZxcvbnFactory: Factory } = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core')
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common')
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en')
  return (zxcvbn = new Factory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: en.translations,
  }))
}

export function passwordProblems(password: string, opts: PasswordPolicyOptions): string[] {
  const problems: string[] = []
  // Length in code points, not UTF-16 units: "🔑" is one character to the user (SP 800-63B).
  const length = [...password].length
  if (length < opts.minLength) problems.push(t('password.tooShort', { count: opts.minLength }))
  if (length > MAX_PASSWORD_LENGTH) problems.push(t('password.tooLong', { count: MAX_PASSWORD_LENGTH }))
  if (problems.length) return problems
  const local = opts.email?.split('@')[0]?.toLowerCase()
  if (local && local.length >= 3 && password.toLowerCase().includes(local)) {
    problems.push(t('password.containsEmail'))
  }
  if (isBreached(password, opts.minLength)) {
    problems.push(t('password.breached'))
    return problems
  }
  const inputs = [...(opts.email ? [opts.email, opts.email.split('@')[0]!] : []), ...(opts.userInputs ?? [])].filter(
    Boolean,
  )
  const result = estimator().check(password, inputs)
  if (result.score < MIN_ZXCVBN_SCORE) {
    // zxcvbn's own hint is English (its English dictionary pack): only English pages show it.
    const hint = result.feedback.warning && currentLocale() === 'en' ? result.feedback.warning : ''
    problems.push(t('password.tooEasy', { hint }).replace(/\s+/g, ' '))
  }
  return problems
}

import { AppError } from '../../errors.ts'
import { KeyRulesError, LEVELS, type KeyRuleViolation, type Level } from '../../apikeys/levels.ts'
import type { KeysView } from '../../views/account-keys.ts'
import { t } from '../../views/i18n.ts'

type FormErrors = NonNullable<KeysView['errors']>
type Field = keyof FormErrors

/** The new-key form as typed (shown again with its errors) and, when it parsed, the values. */
export function readKeyForm(f: URLSearchParams) {
  const form = {
    name: (f.get('name') ?? '').trim(),
    scopes: f.getAll('scopes'),
    level: f.get('level') ?? 'LOW',
    days: (f.get('days') ?? '').trim(),
    allowed_ips: f.get('allowed_ips') ?? '',
    rate_limit: (f.get('rate_limit') ?? '').trim(),
    signing: f.get('signing') === 'hmac-sha256',
  }
  const errors: FormErrors = {}
  if (!form.name) errors.name = t('keys.error.nameMissing')
  else if (form.name.length > 100) errors.name = t('form.atMost100')
  const level = (LEVELS as readonly string[]).includes(form.level) ? (form.level as Level) : undefined
  if (!level) errors.level = t('keys.error.level')
  const days = form.days ? Number(form.days) : undefined
  if (days !== undefined && !(Number.isInteger(days) && days >= 1 && days <= 3650)) errors.days = t('keys.error.days')
  const rateLimit = form.rate_limit ? Number(form.rate_limit) : null
  if (rateLimit !== null && !(Number.isInteger(rateLimit) && rateLimit >= 1 && rateLimit <= 1_000_000))
    errors.rate_limit = t('keys.error.rateLimit')
  // The level's rules (lifetime, allowlist, signed requests), the CIDR syntax and the scopes
  // the user may grant are the key service's: its refusals come back by `serviceErrors`.
  const allowedIps = form.allowed_ips.split(/[\s,]+/).filter(Boolean)
  const second = (f.get('second_factor') ?? '').replace(/\s/g, '').slice(0, 64)
  return { form, errors, level, days, rateLimit, allowedIps, second }
}

/** Which field a broken key rule belongs to, and its message in the page's language. */
function violationField(v: KeyRuleViolation): [Field, string] {
  switch (v.rule) {
    case 'invalid_allowlist':
      return ['allowed_ips', t('keys.error.notAddress', { value: v.problems.join('; ') })]
    case 'allowlist_required':
      return ['allowed_ips', t('keys.error.needsIps', { level: v.level })]
    case 'signature_required':
      return ['signing', t('keys.error.needsSigning', { level: v.level })]
    case 'max_lifetime':
      return ['days', t('keys.error.maxDays', { level: v.level, count: v.maxDays })]
    case 'expiry_past':
      return ['days', t('keys.error.expiryPast')]
  }
}

const sentence = (p: string) => p.charAt(0).toUpperCase() + p.slice(1) + (p.endsWith('.') ? '' : '.')

/**
 * The key service's refusals as messages next to the form fields, from its structured errors:
 * scopes wider than the user's (by code) and each broken key rule (`KeyRulesError.violations`).
 * Only the wording is decided here; the rules stay in apikeys/. Anything else is a form message.
 */
export function serviceErrors(err: AppError): FormErrors {
  if (err.code === 'scope_not_allowed') return { scopes: t('keys.error.scopeNotHeld') }
  if (!(err instanceof KeyRulesError)) return { form: sentence(err.message) }
  const out: FormErrors = {}
  for (const v of err.violations) {
    const [field, message] = violationField(v)
    out[field] = out[field] ? `${out[field]} ${message}` : message
  }
  return out
}

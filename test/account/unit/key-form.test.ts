import { describe, expect, it } from 'vitest'
import { AppError } from '../../../src/errors.ts'
import { KeyRulesError, levelProblems, levelViolations } from '../../../src/apikeys/levels.ts'
import { normaliseCidrs } from '../../../src/apikeys/issue.ts'
import { serviceErrors } from '../../../src/account/pages/key-form.ts'

const DAY = 86_400_000

/**
 * The key page shows the key service's refusals next to the form fields (issue 11 §4): it reads
 * the service's structured violations, never its English messages, while the key API's error
 * (code, message, details) stays word for word what it was.
 */
describe('the new-key form and the key rules', () => {
  const from = new Date('2026-01-01T00:00:00Z')

  it('each broken rule of a CRITICAL key appears at its field; the API error keeps its English wording', () => {
    const critical = {
      level: 'CRITICAL' as const,
      from,
      expiresAt: new Date(from.getTime() + 400 * DAY),
      allowedIps: [],
      signingAlg: null,
    }
    const err = new KeyRulesError(levelViolations(critical), { details: levelProblems(critical) })
    expect(err.code).toBe('invalid_request')
    expect(err.status).toBe(400)
    expect(err.message).toBe(
      'a CRITICAL key lives at most 30 days; a CRITICAL key needs an IP allowlist (allowed_ips); ' +
        'a CRITICAL key needs signed requests (signing)',
    )
    expect(err.details).toEqual([
      'a CRITICAL key lives at most 30 days',
      'a CRITICAL key needs an IP allowlist (allowed_ips)',
      'a CRITICAL key needs signed requests (signing)',
    ])
    expect(serviceErrors(err)).toEqual({
      days: 'A CRITICAL key lives at most 30 days.',
      allowed_ips: 'A CRITICAL key needs at least one allowed address or range.',
      signing: 'A CRITICAL key needs signed requests: tick "Require signed requests".',
    })
  })

  it('an expiry in the past and a bad allowlist entry are tied to their fields', () => {
    const past = new KeyRulesError(
      levelViolations({ level: 'LOW', from, expiresAt: from, allowedIps: [], signingAlg: null }),
    )
    expect(past.message).toBe('expiry must be in the future')
    expect(serviceErrors(past)).toEqual({ days: 'The expiry must be in the future.' })

    let thrown: unknown
    try {
      normaliseCidrs(['10.0.0.0/8', 'not-an-ip'])
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(KeyRulesError)
    expect((thrown as AppError).message).toMatch(/^allowed_ips: /)
    // the API answer names the field structurally too (route-contract shape), and the page still ties it
    expect((thrown as AppError).details).toEqual({
      fields: [{ in: 'body', field: 'allowed_ips', message: '"not-an-ip" is not an IP address or CIDR' }],
    })
    expect(serviceErrors(thrown as AppError).allowed_ips).toMatch(/^Not an address or range: /)
  })

  it('scopes wider than the user holds by code; any other refusal is a sentence on the form', () => {
    expect(serviceErrors(new AppError('scope_not_allowed', 'user:x may not hold admin', { status: 403 }))).toEqual({
      scopes: 'You cannot give a key scopes you do not hold yourself.',
    })
    expect(serviceErrors(new AppError('level_not_allowed', 'something else', { status: 403 }))).toEqual({
      form: 'Something else.',
    })
  })
})

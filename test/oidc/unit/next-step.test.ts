import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  pageStep,
  stepAfterFirstFactor,
  type AfterFirstFactor,
  type InteractionState,
  type PendingStep,
} from '../../../src/oidc/interactions/next-step.ts'
import { ACCOUNT_SWITCH } from '../../../src/oidc/login-policy.ts'

const user = { mustVerifyEmail: false, emailVerified: true, mustChangePassword: false }
const after = (s: Partial<AfterFirstFactor> & { u?: Partial<AfterFirstFactor['user']> }): AfterFirstFactor => ({
  user: { ...user, ...s.u },
  amr: s.amr ?? ['pwd'],
  hasFactor: s.hasFactor ?? false,
  mfaDemanded: s.mfaDemanded ?? false,
})

describe('the step after a first factor', () => {
  it.each([
    ['a password, nothing else asked: signed in', after({}), 'finish'],
    [
      'an unverified self-registered address comes first',
      after({ u: { mustVerifyEmail: true, emailVerified: false }, hasFactor: true }),
      'verify_email',
    ],
    ['a verified address is no step', after({ u: { mustVerifyEmail: true, emailVerified: true } }), 'finish'],
    [
      'a password to replace, after a password',
      after({ u: { mustChangePassword: true }, hasFactor: true }),
      'password_change',
    ],
    [
      'no password to replace after a passkey',
      after({ u: { mustChangePassword: true }, amr: ['hwk', 'mfa'] }),
      'finish',
    ],
    [
      'no password to replace after an upstream sign-in',
      after({ u: { mustChangePassword: true }, amr: ['fed'] }),
      'finish',
    ],
    ['an enrolled factor is asked for', after({ hasFactor: true }), 'mfa'],
    [
      'an enrolled factor is asked for even when nobody demands it',
      after({ hasFactor: true, mfaDemanded: false }),
      'mfa',
    ],
    ['MFA demanded (administrator, require_mfa, acr) and none enrolled: enrol', after({ mfaDemanded: true }), 'enrol'],
    ['a passkey already counts as MFA', after({ amr: ['hwk', 'mfa'], hasFactor: true, mfaDemanded: true }), 'finish'],
    ['an upstream MFA we trust counts', after({ amr: ['fed', 'mfa'], mfaDemanded: true }), 'finish'],
    [
      'an upstream sign-in without MFA asks for the local factor',
      after({ amr: ['fed', 'pwd'], hasFactor: true }),
      'mfa',
    ],
  ] as const)('%s', (_name, state, step) => {
    expect(stepAfterFirstFactor(state)).toBe(step)
  })

  it('for every combination: finish only when nothing is left, and the order is verify, password, factor, enrol', () => {
    fc.assert(
      fc.property(
        fc.record({
          mustVerifyEmail: fc.boolean(),
          emailVerified: fc.boolean(),
          mustChangePassword: fc.boolean(),
        }),
        fc.subarray(['pwd', 'fed', 'hwk', 'swk', 'otp', 'mfa']),
        fc.boolean(),
        fc.boolean(),
        (u, amr, hasFactor, mfaDemanded) => {
          const step = stepAfterFirstFactor({ user: u, amr, hasFactor, mfaDemanded })
          const unverified = u.mustVerifyEmail && !u.emailVerified
          const replace = u.mustChangePassword && amr.includes('pwd')
          const needsMfa = !amr.includes('mfa') && (hasFactor || mfaDemanded)
          // nothing is issued while something is left
          expect(step === 'finish').toBe(!unverified && !replace && !needsMfa)
          if (unverified) expect(step).toBe('verify_email')
          else if (replace) expect(step).toBe('password_change')
          // someone with a factor is never sent to enrol another one
          if (step === 'enrol') expect(hasFactor).toBe(false)
          if (step === 'mfa' || step === 'enrol') expect(amr).not.toContain('mfa')
        },
      ),
    )
  })
})

const state = (s: Partial<InteractionState>): InteractionState => ({
  prompt: { name: 'login', reasons: ['no_session'] },
  switching: false,
  backToSignIn: false,
  skipsConsent: false,
  ...s,
})
const live = { accountId: 'u1', amr: ['pwd'] }

describe('the page of an interaction', () => {
  it.each([
    ['no session: the sign-in form', state({}), { step: 'login', showSignedInAs: true }],
    [
      'a session that ended elsewhere: say so, and name nobody',
      state({ prompt: { name: 'login', reasons: ['portcullis_session'] } }),
      { step: 'login', notice: 'sessionEnded', showSignedInAs: false },
    ],
    [
      'step-up: a live session short of only MFA continues after its first factor',
      state({
        prompt: { name: 'login', reasons: ['mfa_required'] },
        session: { accountId: 'u1', amr: ['pwd', 'mfa'] },
      }),
      {
        step: 'step_up',
        accountId: 'u1',
        amr: ['pwd'],
        otherwise: { step: 'login', notice: 'mfaRequired', showSignedInAs: true },
      },
    ],
    [
      'MFA required and another reason (prompt=login, max_age...): a full sign-in',
      state({ prompt: { name: 'login', reasons: ['mfa_required', 'login_prompt'] }, session: live }),
      { step: 'login', notice: 'mfaRequired', showSignedInAs: true },
    ],
    [
      'MFA required without a session: the sign-in form with the notice',
      state({ prompt: { name: 'login', reasons: ['mfa_required'] } }),
      { step: 'login', notice: 'mfaRequired', showSignedInAs: true },
    ],
    [
      '"Sign in as someone else": the form without a notice, not a step-up',
      state({ prompt: { name: 'login', reasons: ['mfa_required'] }, session: live, switching: true }),
      { step: 'login', showSignedInAs: true },
    ],
    [
      'the account switch reason (login-policy.ts) counts as switching',
      state({ prompt: { name: 'login', reasons: [ACCOUNT_SWITCH] }, session: live }),
      { step: 'login', showSignedInAs: true },
    ],
    [
      'a pending step wins over everything on a login prompt',
      state({ pending: 'enrol', session: live }),
      { step: 'enrol' },
    ],
    [
      'prompt=create: the sign-up page',
      state({ prompt: { name: 'create', reasons: [] } }),
      { step: 'create', resolve: false },
    ],
    [
      'prompt=create, back to sign in: resolved',
      state({ prompt: { name: 'create', reasons: [] }, backToSignIn: true }),
      { step: 'create', resolve: true },
    ],
    ['consent: the page', state({ prompt: { name: 'consent', reasons: [] } }), { step: 'consent', skip: false }],
    [
      'consent for a first-party client: no page',
      state({ prompt: { name: 'consent', reasons: [] }, skipsConsent: true }),
      { step: 'consent', skip: true },
    ],
    [
      'any other prompt is refused',
      state({ prompt: { name: 'select_account', reasons: [] } }),
      { step: 'unsupported' },
    ],
  ] as const)('%s', (_name, s, page) => {
    expect(pageStep(s)).toEqual(page)
  })

  it('a pending step is shown only on a login prompt, and step-up never carries mfa over', () => {
    const steps: PendingStep[] = ['verify_email', 'password_change', 'mfa', 'enrol', 'codes']
    fc.assert(
      fc.property(
        fc.constantFrom('login', 'consent', 'create', 'none'),
        fc.option(fc.constantFrom(...steps), { nil: undefined }),
        fc.subarray(['no_session', 'mfa_required', 'login_prompt', 'portcullis_session', ACCOUNT_SWITCH]),
        fc.option(fc.record({ accountId: fc.string({ minLength: 1 }), amr: fc.subarray(['pwd', 'otp', 'mfa']) }), {
          nil: undefined,
        }),
        fc.boolean(),
        (name, pending, reasons, session, switching) => {
          const page = pageStep(state({ prompt: { name, reasons }, pending, session, switching }))
          if (pending && name === 'login') expect(page).toEqual({ step: pending })
          if (name !== 'login') expect(steps).not.toContain(page.step)
          if (page.step === 'step_up') {
            expect(page.amr).not.toContain('mfa')
            expect(reasons).toEqual(['mfa_required'])
            expect(switching).toBe(false)
          }
        },
      ),
    )
  })
})

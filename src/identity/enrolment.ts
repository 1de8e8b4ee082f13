import type { AuditAction } from '../audit/actions.ts'
import type { RegistrationResponseJSON } from '@simplewebauthn/server'
import { AppError } from '../errors.ts'
import type { AuditLog } from '../audit/log.ts'
import { t } from '../views/i18n.ts'
import { RECOVERY_CODE_COUNT, type MfaService } from './mfa.ts'
import type { SessionRecord } from './queries/sessions.ts'
import type { SessionService } from './sessions.ts'
import type { RequestMeta } from './password-reset.ts'

interface Who {
  id: string
  email: string
  name: string | null
}

/** What an enrolment ceremony keeps on the sign-in session between its two requests. */
type Pending = { totp?: string; webauthn?: string }
function pendingOf(s: SessionRecord): Pending {
  try {
    return s.challenge ? (JSON.parse(s.challenge) as Pending) : {}
  } catch {
    return {}
  }
}

/**
 * A user enrols and manages their own second factors (the account pages): TOTP, passkeys and
 * recovery codes. Each change and its audit record commit together (db/audited.ts); a refused
 * passkey is recorded as a failure. The ceremony's pending secret or challenge lives on the
 * sign-in session (sealed, for a TOTP secret), never in a page or URL.
 */
export function enrolmentService(deps: {
  mfa: MfaService
  sessions: Pick<SessionService, 'setChallenge'>
  audit: AuditLog
}) {
  const { mfa, audit } = deps
  const success = (user: Who, action: AuditAction, details: Record<string, unknown>, m: RequestMeta) => ({
    action,
    outcome: 'success' as const,
    actor: user.id,
    target: user.id,
    details,
    ...m,
  })

  return {
    /** TOTP, step 1: a new secret and its QR code; the secret is kept sealed on the session. */
    async startTotp(s: SessionRecord, user: Who) {
      const { secret, qr } = await mfa.startTotp(user.email)
      await deps.sessions.setChallenge(s.id, JSON.stringify({ totp: mfa.sealPending(secret, s.id) }))
      return { secret, qr }
    },
    /**
     * TOTP, step 2: a code from the app confirms the pending secret. A wrong code gives the
     * secret and QR code back for another try; the first factor comes with recovery codes.
     */
    async confirmTotp(
      s: SessionRecord,
      user: Who,
      input: { code: string; name: string },
      m: RequestMeta,
    ): Promise<{ ok: false; secret: string; qr: string } | { ok: true; recoveryCodes?: string[] }> {
      const sealed = pendingOf(s).totp
      if (!sealed) throw new AppError('wrong_step', 'start again from your account page', { status: 400 })
      const secret = mfa.openPending(sealed, s.id)
      const first = !(await mfa.hasFactor(user.id))
      const factor = await mfa.confirmTotp(
        user.id,
        secret,
        input.code,
        input.name.slice(0, 64),
        audit.with((created) => success(user, 'mfa.enrolled', { type: 'totp', factor: created.id }, m)),
      )
      if (!factor) return { ok: false, secret, qr: (await mfa.totpQr(secret, user.email)).qr }
      await deps.sessions.setChallenge(s.id, null)
      return first ? { ok: true, recoveryCodes: await mfa.regenerateRecoveryCodes(user.id) } : { ok: true }
    },

    /** Passkey, step 1: the WebAuthn creation options; the challenge is kept on the session. */
    async passkeyOptions(s: SessionRecord, user: Who) {
      const options = await mfa.registrationOptions(user)
      await deps.sessions.setChallenge(s.id, JSON.stringify({ webauthn: options.challenge }))
      return options
    },
    /** Passkey, step 2: the authenticator's answer. `first` when it is the user's first factor. */
    async registerPasskey(
      s: SessionRecord,
      user: Who,
      input: { credential: RegistrationResponseJSON; name?: string },
      m: RequestMeta,
    ): Promise<{ first: boolean }> {
      const challenge = pendingOf(s).webauthn
      if (!challenge) throw new AppError('wrong_step', 'ask for passkey options first', { status: 400 })
      await deps.sessions.setChallenge(s.id, null)
      const first = !(await mfa.hasFactor(user.id))
      try {
        await mfa.verifyRegistration(
          user.id,
          input.credential,
          challenge,
          input.name ?? t('passkey.defaultName'),
          audit.with((created) => success(user, 'mfa.enrolled', { type: 'webauthn', factor: created.id }, m)),
        )
      } catch (err) {
        await audit.record({
          ...success(user, 'mfa.enrolled', { type: 'webauthn', reason: (err as Error).message.slice(0, 200) }, m),
          outcome: 'failure',
        })
        throw new AppError('passkey_rejected', 'The passkey could not be registered. Try again.', { status: 400 })
      }
      return { first }
    },

    /** New recovery codes (the old ones stop working); shown once, never stored. */
    async regenerateRecoveryCodes(user: Who, m: RequestMeta) {
      if (!(await mfa.hasFactor(user.id))) throw new AppError('no_factor', 'add a second factor first', { status: 400 })
      return mfa.regenerateRecoveryCodes(
        user.id,
        audit.with(() => success(user, 'mfa.recovery_codes', { count: RECOVERY_CODE_COUNT }, m)),
      )
    },
    /** Removes one of the user's factors; false when the user has no such factor. */
    removeFactor: (user: Who, factorId: string, m: RequestMeta) =>
      mfa.remove(
        user.id,
        factorId,
        audit.with((gone: boolean) => (gone ? success(user, 'mfa.removed', { factor: factorId }, m) : null)),
      ),
    /** Renames one of the user's factors; false when the user has no such factor. */
    renameFactor: (user: Who, factorId: string, name: string, m: RequestMeta) =>
      mfa.rename(
        user.id,
        factorId,
        name,
        audit.with((done) => (done ? success(user, 'mfa.renamed', { factor: factorId, name }, m) : null)),
      ),
  }
}
export type EnrolmentService = ReturnType<typeof enrolmentService>

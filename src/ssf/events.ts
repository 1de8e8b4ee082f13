/**
 * Which audit events become which Shared Signals events (CAEP 1.0 §3, RISC 1.0 §2, SSF 1.0
 * §8.1.5), and the Security Event Token claims (RFC 8417 §2.2; SSF 1.0 §4 puts the subject in
 * `sub_id`).
 */
export const DELIVERY_PUSH = 'urn:ietf:rfc:8935'
export const DELIVERY_POLL = 'urn:ietf:rfc:8936'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type'
const RISC = 'https://schemas.openid.net/secevent/risc/event-type'
const SSF = 'https://schemas.openid.net/secevent/ssf/event-type'
export const VERIFICATION = `${SSF}/verification`
export const STREAM_UPDATED = `${SSF}/stream-updated`
export const SESSION_REVOKED = `${CAEP}/session-revoked`
export const CREDENTIAL_CHANGE = `${CAEP}/credential-change`
export const ASSURANCE_LEVEL_CHANGE = `${CAEP}/assurance-level-change`
export const ACCOUNT_DISABLED = `${RISC}/account-disabled`
export const ACCOUNT_ENABLED = `${RISC}/account-enabled`
export const CREDENTIAL_CHANGE_REQUIRED = `${RISC}/account-credential-change-required`

/**
 * What a stream may request (events_supported). Verification (SSF §8.1.4) and stream-updated
 * (§8.1.5) are about the stream itself and always delivered.
 */
export const EVENTS_SUPPORTED = [
  SESSION_REVOKED,
  CREDENTIAL_CHANGE,
  ASSURANCE_LEVEL_CHANGE,
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  CREDENTIAL_CHANGE_REQUIRED,
] as const
/** Events that are about the stream, not a user: delivered even while the stream is not enabled. */
export const STREAM_EVENTS: readonly string[] = [VERIFICATION, STREAM_UPDATED]

/** The audit action of a stream status change; `initiated_by: transmitter` ones are sent as stream-updated. */
export const STREAM_STATUS_CHANGED = 'ssf.stream_status_changed'

type Details = Record<string, unknown>
type Mapped = { type: string; event: (ts: number, details: Details) => Details }
const caep = (type: string, extra: (d: Details) => Details = () => ({})): Mapped => ({
  type,
  event: (ts, d) => ({ event_timestamp: ts, initiating_entity: 'policy', ...extra(d) }),
})
const risc = (type: string, extra: (d: Details) => Details = () => ({})): Mapped => ({
  type,
  event: (_ts, d) => extra(d),
})
const password = (change_type: string) => caep(CREDENTIAL_CHANGE, () => ({ credential_type: 'password', change_type }))
const factor = (change_type: string) =>
  caep(CREDENTIAL_CHANGE, (d) => ({
    credential_type: d.type === 'webauthn' || d.kind === 'webauthn' ? 'fido2-roaming' : 'app',
    change_type,
  }))

/** audit action (outcome success, target = user id) → SSF event */
export const AUDIT_TO_EVENT: Readonly<Record<string, Mapped>> = {
  // RISC 1.0 §2.4: `reason` is `hijacking` when an administrator contained the account
  'user.disabled': risc(ACCOUNT_DISABLED, (d) => (d.reason === 'hijacking' ? { reason: 'hijacking' } : {})),
  'user.enabled': risc(ACCOUNT_ENABLED),
  'password.changed': password('update'),
  'user.password_reset': password('update'),
  'mfa.enrolled': factor('create'),
  'mfa.removed': factor('delete'),
  'user.mfa_reset': factor('delete'),
  'session.revoked': caep(SESSION_REVOKED),
  'user.sessions_revoked': caep(SESSION_REVOKED),
}

/**
 * The event for an audit record, if any. `user.password_reset` is both a completed reset link
 * (the password changed) and an administrator forcing a new password at the next sign-in
 * (details.after.must_change_password): the latter is RISC account-credential-change-required.
 */
export function eventFor(action: string, details: Details): Mapped | undefined {
  const after = details.after as { must_change_password?: boolean } | undefined
  if (action === 'user.password_reset' && after?.must_change_password) return risc(CREDENTIAL_CHANGE_REQUIRED)
  return AUDIT_TO_EVENT[action]
}

/** Audit actions after which the account's assurance level may have changed (its factor count decides). */
export const FACTOR_ACTIONS: ReadonlySet<string> = new Set(['mfa.enrolled', 'mfa.removed', 'user.mfa_reset'])

/**
 * CAEP 1.0 §3.4 assurance-level-change, in the RFC 8176 namespace: an account with a second
 * factor signs in at `mfa` (our acr urn:portcullis:acr:mfa), one without at `pwd`. The level
 * changes when the first factor is enrolled (increase) and when the last one is removed, by the
 * user or an administrator's MFA reset (decrease); `factors` is the count after the change.
 */
export function assuranceChange(
  e: { action: string; actor: string | null; target: string | null; parsedDetails: Details },
  factors: number,
  ts: number,
): Details | undefined {
  const initiating_entity = e.actor === e.target ? 'user' : 'admin'
  const change = (previous_level: string, current_level: string, change_direction: string) => ({
    namespace: 'RFC8176',
    current_level,
    previous_level,
    change_direction,
    initiating_entity,
    event_timestamp: ts,
  })
  if (e.action === 'mfa.enrolled' && factors === 1) return change('pwd', 'mfa', 'increase')
  if (e.action === 'mfa.removed' && factors === 0) return change('mfa', 'pwd', 'decrease')
  const before = (e.parsedDetails.before as { factors?: unknown[] } | undefined)?.factors
  if (e.action === 'user.mfa_reset' && factors === 0 && before?.length) return change('mfa', 'pwd', 'decrease')
  return undefined
}

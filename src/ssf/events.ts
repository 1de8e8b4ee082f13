/**
 * Which audit events become which Shared Signals events (CAEP 1.0 §3, RISC 1.0 §2), and the
 * Security Event Token claims (RFC 8417 §2.2; SSF 1.0 §4 puts the subject in `sub_id`).
 */
export const DELIVERY_PUSH = 'urn:ietf:rfc:8935'
export const DELIVERY_POLL = 'urn:ietf:rfc:8936'

const CAEP = 'https://schemas.openid.net/secevent/caep/event-type'
const RISC = 'https://schemas.openid.net/secevent/risc/event-type'
export const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification'
export const SESSION_REVOKED = `${CAEP}/session-revoked`
export const CREDENTIAL_CHANGE = `${CAEP}/credential-change`
export const ACCOUNT_DISABLED = `${RISC}/account-disabled`
export const ACCOUNT_ENABLED = `${RISC}/account-enabled`
export const CREDENTIAL_CHANGE_REQUIRED = `${RISC}/account-credential-change-required`

/** What a stream may request (events_supported); verification is always delivered (SSF §8.1.4). */
export const EVENTS_SUPPORTED = [
  SESSION_REVOKED,
  CREDENTIAL_CHANGE,
  ACCOUNT_DISABLED,
  ACCOUNT_ENABLED,
  CREDENTIAL_CHANGE_REQUIRED,
] as const

type Mapped = { type: string; event: (ts: number, details: Record<string, unknown>) => Record<string, unknown> }
const caep = (type: string, extra: (d: Record<string, unknown>) => Record<string, unknown> = () => ({})): Mapped => ({
  type,
  event: (ts, d) => ({ event_timestamp: ts, initiating_entity: 'policy', ...extra(d) }),
})
const risc = (type: string, extra: (d: Record<string, unknown>) => Record<string, unknown> = () => ({})): Mapped => ({
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
  'user.disabled': risc(ACCOUNT_DISABLED),
  'user.contained': risc(ACCOUNT_DISABLED, () => ({ reason: 'hijacking' })),
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
export function eventFor(action: string, details: Record<string, unknown>): Mapped | undefined {
  const after = details.after as { must_change_password?: boolean } | undefined
  if (action === 'user.password_reset' && after?.must_change_password) return risc(CREDENTIAL_CHANGE_REQUIRED)
  return AUDIT_TO_EVENT[action]
}

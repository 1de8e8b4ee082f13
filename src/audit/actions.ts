/**
 * Every audit action portcullis records, grouped by the feature that records it, each with the
 * one line docs/audit.md shows (test/unit/audit-actions.test.ts keeps the two in step).
 * `audit.record({ action })` and `audit.with(...)` accept only these (`AuditAction`), so a
 * misspelt or undocumented action does not compile. To add one: add it here, then to the list in
 * docs/audit.md.
 */
export const AUDIT_ACTIONS = {
  signIn: {
    login: 'a sign-in attempt (password, passkey, upstream); `details.reason` on failure',
    logout: 'a person signed out (RP-initiated logout)',
    'logout.backchannel': 'a back-channel logout token sent to a client (OpenID Back-Channel Logout)',
    'logout.frontchannel': "a client's front-channel logout page was framed at sign-out (OpenID Front-Channel Logout)",
    'consent.granted': 'a person (or skip_consent) granted a client scopes',
    'mfa.challenge': 'a second factor was asked for',
    'mfa.verify': 'a second factor was checked (TOTP, passkey, recovery code)',
    'mfa.enrolled': 'a second factor was added to an account',
    'mfa.removed': 'a second factor was removed from an account',
    'mfa.renamed': 'a passkey was renamed',
    'mfa.recovery_codes': 'new recovery codes were generated',
    'mfa.policy_changed': 'the "second factor for everyone" setting changed',
  },
  tokens: {
    'token.issued': 'an access or refresh token was issued',
    'token.revoked': 'a token was revoked (RFC 7009)',
    'token.exchanged': 'a token exchange (RFC 8693) succeeded or was refused',
    'grant.revoked': 'a grant (and its tokens) was revoked',
    'session.revoked': 'a sign-in session was ended from the account page or by an administrator',
    'keys.rotated': 'the token signing keys were rotated',
    'keys.retired': 'a token signing key was retired (no longer published)',
  },
  accounts: {
    'user.created': 'a user was created (admin API, CLI, console, bootstrap, import)',
    'user.updated': 'a user was changed by an administrator',
    'user.deleted': 'a user was deleted with everything it leaves behind',
    'user.disabled': 'a user was disabled (its sessions end)',
    'user.enabled': 'a user was enabled again',
    'user.locked': 'an account was locked after failed sign-ins',
    'user.unlocked': 'an account was unlocked',
    'user.registered': 'a person registered themselves (self-registration)',
    'user.invitation_sent': 'an invitation mail was sent',
    'user.invitation_accepted': 'an invited user set a password',
    'user.email_verification_sent': 'an address-confirmation mail was sent',
    'user.email_verified': 'an email address was confirmed',
    'user.email_change_requested': 'a change of email address was asked for (a link was mailed)',
    'user.email_changed': 'an email address was changed',
    'user.password_reset_requested': 'a password-reset mail was asked for',
    'user.password_reset': 'a password was reset through a link',
    'user.password_rehashed': 'a password hash was upgraded to the current parameters at sign-in',
    'user.password_set_by_import': 'the import file set a password hash',
    'user.password_reset_by_import': 'the import file required a password reset',
    'user.totp_set_by_import': 'the import file set a TOTP secret',
    'user.mfa_reset': 'an administrator removed all second factors of a user',
    'user.sessions_revoked': 'an administrator ended all sessions of a user',
    'user.contained': 'an administrator contained a user (incident response)',
    'password.changed': 'a person changed their password',
    'profile.updated': 'a person changed their profile',
  },
  federation: {
    'federation.started': 'a sign-in through an upstream identity provider started',
    'federation.authenticated': 'the upstream identity provider signed the person in',
    'federation.user_created': 'an account was created from an upstream identity',
    'federation.linked': 'an upstream identity was linked to an account',
    'federation.link_required': 'the person must sign in with a password to link an upstream identity',
    'federation.link_refused': 'an upstream sign-in was refused (`details.reason`)',
    'federation.roles_mapped': 'roles were granted or removed from the upstream identity’s claims',
    'identity_provider.created': 'an upstream identity provider was configured',
    'identity_provider.updated': 'an upstream identity provider was changed',
    'identity_provider.deleted': 'an upstream identity provider was removed',
  },
  clients: {
    'client.created': 'a client was created (admin API, CLI, console, import)',
    'client.registered': 'a client registered itself (RFC 7591 dynamic registration)',
    'client.updated': 'a client was changed',
    'client.deleted': 'a client was deleted',
    'client.enabled': 'a contained (disabled) client was enabled again',
    'client.secret_rotated': 'a client secret was rotated',
    'client.iat_created': 'an initial access token for dynamic registration was created',
    'client.ip_denied': 'a client called from an address its allowlist does not hold',
    'client.contained': 'an administrator contained a client (incident response)',
    'resource.created': 'an API resource (audience) was created',
    'resource.updated': 'an API resource was changed',
    'resource.deleted': 'an API resource was deleted',
  },
  apikeys: {
    'apikey.created': 'an API key was issued',
    'apikey.updated': 'an API key was changed',
    'apikey.revoked': 'an API key was revoked',
    'apikey.approved': 'an administrator approved an API key with management scopes',
    'apikey.rotated': 'an API key was rotated (the old one works until its grace period ends)',
    'apikey.expiring': 'an API key expires soon (its owner was told)',
    'apikey.rejected': 'a request with an API key was refused (`details.reason`)',
    'apikey.exchanged': 'an API key was exchanged for an access token',
    'admin.apikey_revoked': 'an administrator revoked someone else’s API key',
  },
  authorization: {
    'policy.store_created': 'a policy store was created',
    'policy.changed': 'a policy store’s policy changed (a new version)',
    'admin.role_granted': 'an admin role was granted',
    'admin.role_revoked': 'an admin role was revoked',
    'admin.role_requested': 'a time-bound admin role was asked for',
    'admin.role_request_approved': 'a time-bound role request was approved (the role is held)',
    'admin.role_request_denied': 'a time-bound role request was denied',
    'admin.role_request_cancelled': 'a time-bound role request was cancelled',
    'admin.role_elevation_expired': 'a time-bound role ran out',
    'admin.role_elevation_revoked': 'a time-bound role was ended early',
    'access_review.started': 'an access review started',
    'access_review.confirmed': 'a reviewer confirmed an access',
    'access_review.revoked': 'a reviewer revoked an access',
    'access_review.completed': 'an access review was completed',
  },
  platform: {
    'config.imported': 'a declarative import file was applied',
    'management.ip_denied': 'the management API was called from an address not allowed',
    'ssf.stream_created': 'a Shared Signals stream was created',
    'ssf.stream_updated': 'a Shared Signals stream was changed',
    'ssf.stream_deleted': 'a Shared Signals stream was deleted',
    'ssf.stream_status_changed': 'an administrator enabled, paused or disabled a Shared Signals stream',
  },
  audit: {
    'audit.checkpoint': 'a signed checkpoint of the chain was written',
    'audit.pruned': 'records older than the retention were deleted (a prune checkpoint signs the cut)',
    'audit.record_refused': 'the database refused a record; this one stands in for it',
    'alert.password_spraying': 'monitor: one source tried many accounts',
    'alert.credential_stuffing': 'monitor: many failed sign-ins with many usernames from one source',
    'alert.new_ip': 'monitor: a user signed in from an address not seen before',
    'alert.new_device': 'monitor: a user signed in from a device not seen before',
    'alert.mfa_fatigue': 'monitor: many second-factor challenges without a success',
    'alert.apikey_misuse': 'monitor: an API key was refused many times',
    'alert.admin_off_hours': 'monitor: an administrative change outside AUDIT_ADMIN_WINDOW',
  },
} as const satisfies Record<string, Record<string, string>>

type Groups = typeof AUDIT_ACTIONS
/** Every audit action: the union of the catalogue's groups. */
export type AuditAction = { [G in keyof Groups]: keyof Groups[G] & string }[keyof Groups]

/** [group, action, meaning] for every action, in catalogue order. */
export const allAuditActions = (): [group: string, action: AuditAction, meaning: string][] =>
  Object.entries(AUDIT_ACTIONS).flatMap(([group, actions]) =>
    Object.entries(actions as Record<string, string>).map(
      ([action, meaning]) => [group, action as AuditAction, meaning] as [string, AuditAction, string],
    ),
  )

const known: ReadonlySet<string> = new Set(allAuditActions().map(([, a]) => a))
/** Whether a stored or requested action name is one portcullis records (e.g. to validate a filter). */
export const isAuditAction = (a: string): a is AuditAction => known.has(a)

/** The groups' headings in docs/audit.md. */
const GROUP_TITLES: Record<keyof typeof AUDIT_ACTIONS, string> = {
  signIn: 'Sign-in and second factors',
  tokens: 'Tokens, sessions and signing keys',
  accounts: 'Accounts',
  federation: 'Upstream identity providers',
  clients: 'Clients and API resources',
  apikeys: 'API keys',
  authorization: 'Policies, admin roles and access reviews',
  platform: 'Import, management API and Shared Signals',
  audit: 'The audit log and security monitoring',
}

/** The list of actions in docs/audit.md as the catalogue says it should read (test/unit/audit-actions.test.ts). */
export function auditActionsDoc(): string {
  return Object.entries(AUDIT_ACTIONS)
    .map(([group, actions]) =>
      [
        `#### ${GROUP_TITLES[group as keyof typeof AUDIT_ACTIONS]}`,
        '',
        '| action | meaning |',
        '|---|---|',
        ...Object.entries(actions).map(([a, meaning]) => `| \`${a}\` | ${meaning.replace(/\|/g, '\\|')} |`),
      ].join('\n'),
    )
    .join('\n\n')
}

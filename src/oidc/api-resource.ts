/**
 * portcullis's own APIs (policy checks, policy/key/audit management) are an OAuth resource
 * server like any other: callers get a JWT access token for the indicator `${PUBLIC_URL}/api`
 * with client credentials, and our routes verify it offline against our own keys.
 */
export const API_SCOPES = {
  'authz:check': 'ask the policy decision point for decisions',
  'authz:admin': 'manage policy stores and their versions',
  'apikeys:admin': 'issue, rotate and revoke any API key',
  'apikeys:manage': "issue, rotate and revoke the caller's own API keys",
  'apikeys:verify': 'verify API keys presented to a resource server (/apikeys/v1/verify)',
  'audit:read': 'read and export the audit log',
  'ssf:stream': "manage the caller's Shared Signals event stream and poll its events (receivers)",
  admin: 'full administration',
} as const
export type ApiScope = keyof typeof API_SCOPES
export const API_SCOPE_NAMES = Object.keys(API_SCOPES) as ApiScope[]

export const apiIndicator = (publicUrl: string) => `${publicUrl}/api`

/**
 * Management scopes (DESIGN.md "Authority"): they manage portcullis itself, so a client gets
 * one only when its registered `scope` names it, and the compliance report lists every client
 * and API key that can obtain one. `authz:check` only asks for decisions and is not one.
 */
export const MANAGEMENT_SCOPES = [
  'admin',
  'authz:admin',
  'apikeys:admin',
  'apikeys:manage',
  'apikeys:verify',
  'audit:read',
] as const satisfies readonly ApiScope[]
const MANAGEMENT = new Set<string>(MANAGEMENT_SCOPES)
export const isManagementScope = (scope: string) => MANAGEMENT.has(scope)

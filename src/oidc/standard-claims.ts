import { errors, type KoaContextWithOIDC } from 'oidc-provider'

/**
 * The `address` and `phone` scopes (OIDC Core §5.4) and the `claims` request parameter (§5.5).
 *
 * The claims come from the user's `attributes` (JSON on the user record, set by the import file
 * or the admin API): `address` (an object with the §5.1.1 members, or a string taken as
 * `formatted`), `phone_number` (a string, E.164 recommended) and `phone_number_verified`
 * (a boolean). Anything else in those attributes is left out rather than passed on.
 */

const ADDRESS_MEMBERS = ['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country'] as const
const MAX = 500

const text = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= MAX ? v : undefined)

/** OIDC Core §5.1.1 address claim from `attributes.address`. */
function addressOf(value: unknown): Record<string, string> | undefined {
  if (typeof value === 'string') return text(value) ? { formatted: value } : undefined
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined
  const out: Record<string, string> = {}
  for (const m of ADDRESS_MEMBERS) {
    const v = text((value as Record<string, unknown>)[m])
    if (v) out[m] = v
  }
  return Object.keys(out).length ? out : undefined
}

/** The address and phone claims of a user's attributes (undefined members are left out). */
export function addressAndPhoneClaims(attributes: Record<string, unknown> | undefined) {
  const a = attributes ?? {}
  const phone = text(a.phone_number)
  return {
    address: addressOf(a.address),
    phone_number: phone,
    phone_number_verified: phone && typeof a.phone_number_verified === 'boolean' ? a.phone_number_verified : undefined,
  }
}

/** The claims each scope releases (oidc-provider `claims` configuration). */
export const SCOPE_CLAIMS = {
  // OIDC Core §2: how and when the user authenticated. oidc-provider includes these only
  // when requested; RPs (and our MFA policies) want them in every ID token.
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  email: ['email', 'email_verified'],
  profile: ['name', 'updated_at'],
  roles: ['roles'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
} satisfies Record<string, string[]>

/**
 * §5.5 lets a client ask for single claims outside the scopes it asks for. It may still only ask
 * for claims of scopes its registration allows (its `scope` ceiling, client-scopes.ts): a client
 * registered for `openid` alone cannot read `roles` or `phone_number` through `claims`.
 */
export async function assertClaimsWithinClientScope(
  _ctx: KoaContextWithOIDC,
  claims: { id_token?: object; userinfo?: object },
  client: { scope?: string },
) {
  if (client.scope === undefined) return // built-in clients carry no ceiling
  const allowed = new Set(client.scope.split(' '))
  const mayRead = new Set(
    Object.entries(SCOPE_CLAIMS)
      .filter(([scope]) => scope === 'openid' || allowed.has(scope))
      .flatMap(([, c]) => c),
  )
  const known = new Set(Object.values(SCOPE_CLAIMS).flat())
  for (const where of ['id_token', 'userinfo'] as const) {
    const asked: unknown = claims[where]
    if (!asked || typeof asked !== 'object') continue
    const beyond = Object.keys(asked).filter((c) => known.has(c) && !mayRead.has(c))
    if (beyond.length)
      throw new errors.InvalidRequest(
        `claims parameter asks for claims beyond the client's registered scope: ${beyond.join(' ')}`,
      )
  }
}

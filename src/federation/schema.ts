import { z } from 'zod'

/**
 * An upstream identity provider in the import file (`identity_providers`). Presets fill in what
 * a well-known provider always has (endpoints, scopes, claim names); anything given here wins.
 * Secrets (`client_secret`, `private_key_jwk`) are sealed with the master key when stored and
 * never exported.
 */
export const PRESETS = ['google', 'microsoft', 'github', 'gitlab'] as const
export type Preset = (typeof PRESETS)[number]

// Printable, no NUL and bounded: every string reaches storage or an upstream URL.
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .regex(/^[^\x00-\x1f\x7f]+$/, 'must be printable text')
const claimPath = text(200).regex(
  /^[A-Za-z0-9_:.\-/]+$/,
  'a claim name, dotted for nested claims (e.g. realm_access.roles)',
)
const httpsUrl = z
  .url()
  .max(2000)
  .refine((u) => {
    const url = new URL(u)
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname))
  }, 'must be https (http only for localhost, for tests)')

/** http is allowed only to this machine (tests, a local development IdP); never over a network. */
export function isLoopback(hostname: string) {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}

const roleMapping = z
  .object({
    // the claim to look at; the provider's `claims.roles` when omitted
    claim: claimPath.optional(),
    // a claim value (or one element of an array claim) that grants `roles`
    value: text(500),
    roles: z.array(text(200)).min(1),
  })
  .strict()

/** The entry's fields alone (the admin API's request bodies); `identityProviderEntry` adds the rules between fields. */
export const identityProviderFields = z
  .object({
    alias: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, _ and -, at most 64'),
    display_name: text(100).optional(),
    preset: z.enum(PRESETS).optional(),
    type: z.enum(['oidc', 'oauth2']).optional(),
    enabled: z.boolean().default(true),
    // OpenID Connect: discovery at `${issuer}/.well-known/openid-configuration` (OIDC Discovery §4).
    issuer: httpsUrl.optional(),
    // Microsoft Entra ID: the directory (tenant) id or a verified domain of it.
    tenant: z
      .string()
      .regex(/^[A-Za-z0-9.-]{1,100}$/, 'a tenant id (GUID) or domain')
      .optional(),
    // Plain OAuth 2.0 (GitHub-style): the endpoints, and a user endpoint returning JSON.
    authorization_endpoint: httpsUrl.optional(),
    token_endpoint: httpsUrl.optional(),
    userinfo_endpoint: httpsUrl.optional(),
    // GitHub-style: a list of `{email, primary, verified}`; the primary address is used.
    emails_endpoint: httpsUrl.optional(),
    client_id: text(500),
    client_secret: z
      .string()
      .min(1)
      .max(2000)
      .regex(/^[^\x00]+$/, 'must not contain NUL')
      .optional(),
    // private_key_jwt (RFC 7523 §2.2): the private key as a JWK (kid recommended).
    private_key_jwk: z.record(z.string(), z.unknown()).optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,200}$/, 'not a valid scope token (RFC 6749 §3.3)'))
      .max(50)
      .optional(),
    // PKCE (RFC 7636) with S256; on unless the upstream rejects it.
    pkce: z.boolean().default(true),
    claims: z
      .object({
        subject: claimPath.optional(),
        email: claimPath.optional(),
        email_verified: claimPath.optional(),
        name: claimPath.optional(),
        roles: claimPath.optional(),
      })
      .strict()
      .optional(),
    // The upstream vouches for its addresses although it sends no email_verified (an Entra ID
    // tenant whose domains you own). Off: such an address never links nor creates an account.
    trust_email: z.boolean().default(false),
    // The upstream's `amr` containing `mfa` counts as our second factor (else a user with a second
    // factor here is asked for it).
    trust_upstream_mfa: z.boolean().default(true),
    create_users: z.boolean().default(true),
    link_existing: z.boolean().default(true),
    allowed_email_domains: z.array(z.string().regex(/^[a-z0-9.-]{1,253}$/, 'a lowercase domain')).optional(),
    default_roles: z.array(text(200)).default([]),
    role_mappings: z.array(roleMapping).default([]),
  })
  .strict()

export const identityProviderEntry = identityProviderFields.superRefine((p, ctx) => {
  const type = p.type ?? presetDefaults(p).type ?? 'oidc'
  if (type === 'oidc' && !p.issuer && !presetDefaults(p).issuer) {
    ctx.addIssue({
      code: 'custom',
      path: ['issuer'],
      message:
        p.preset === 'microsoft'
          ? 'the microsoft preset needs `tenant` (or issuer)'
          : 'required for an OpenID Connect provider',
    })
  }
  if (
    p.preset === 'microsoft' &&
    p.tenant &&
    ['common', 'organizations', 'consumers'].includes(p.tenant.toLowerCase())
  ) {
    // The multi-tenant endpoints publish a templated issuer ({tenantid}) that no ID token matches.
    ctx.addIssue({
      code: 'custom',
      path: ['tenant'],
      message: 'name one directory (tenant id or domain); common/organizations/consumers cannot be validated',
    })
  }
  if (type === 'oauth2') {
    const d = presetDefaults(p)
    for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint'] as const) {
      if (!p[key] && !d[key])
        ctx.addIssue({ code: 'custom', path: [key], message: 'required for a plain OAuth 2.0 provider' })
    }
  }
  const method = p.token_endpoint_auth_method ?? (p.private_key_jwk ? 'private_key_jwt' : 'client_secret_basic')
  if (method === 'private_key_jwt' && !p.private_key_jwk)
    ctx.addIssue({ code: 'custom', path: ['private_key_jwk'], message: 'required for private_key_jwt' })
  if (method !== 'private_key_jwt' && !p.client_secret)
    ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `required for ${method}` })
  if (p.private_key_jwk && typeof p.private_key_jwk.d !== 'string')
    ctx.addIssue({ code: 'custom', path: ['private_key_jwk'], message: 'must be a private key (JWK with "d")' })
})
export type IdentityProviderEntry = z.infer<typeof identityProviderEntry>

export interface ResolvedProvider {
  alias: string
  displayName: string
  type: 'oidc' | 'oauth2'
  enabled: boolean
  issuer?: string
  authorizationEndpoint?: string
  tokenEndpoint?: string
  userinfoEndpoint?: string
  emailsEndpoint?: string
  clientId: string
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
  scopes: string[]
  pkce: boolean
  claims: { subject: string; email: string; emailVerified: string; name: string; roles: string }
  trustEmail: boolean
  trustUpstreamMfa: boolean
  createUsers: boolean
  linkExisting: boolean
  allowedEmailDomains?: string[]
  defaultRoles: string[]
  roleMappings: { claim?: string; value: string; roles: string[] }[]
}

type Defaults = Partial<
  Pick<
    IdentityProviderEntry,
    | 'type'
    | 'issuer'
    | 'authorization_endpoint'
    | 'token_endpoint'
    | 'userinfo_endpoint'
    | 'emails_endpoint'
    | 'scopes'
    | 'display_name'
  >
> & { claims?: Partial<ResolvedProvider['claims']> }

/** What each preset means (docs/login.md lists the same). */
function presetDefaults(p: Pick<IdentityProviderEntry, 'preset' | 'tenant'>): Defaults {
  switch (p.preset) {
    case 'google':
      return {
        type: 'oidc',
        display_name: 'Google',
        issuer: 'https://accounts.google.com',
        scopes: ['openid', 'email', 'profile'],
      }
    case 'microsoft':
      // v2.0 endpoints of one directory; app roles arrive in the `roles` claim.
      return {
        type: 'oidc',
        display_name: 'Microsoft',
        ...(p.tenant ? { issuer: `https://login.microsoftonline.com/${p.tenant}/v2.0` } : {}),
        scopes: ['openid', 'email', 'profile'],
        claims: { roles: 'roles' },
      }
    case 'gitlab':
      return {
        type: 'oidc',
        display_name: 'GitLab',
        issuer: 'https://gitlab.com',
        scopes: ['openid', 'email', 'profile'],
        claims: { roles: 'groups' },
      }
    case 'github':
      // GitHub is OAuth 2.0 only: /user has no `sub` and no verified flag; /user/emails has both.
      return {
        type: 'oauth2',
        display_name: 'GitHub',
        authorization_endpoint: 'https://github.com/login/oauth/authorize',
        token_endpoint: 'https://github.com/login/oauth/access_token',
        userinfo_endpoint: 'https://api.github.com/user',
        emails_endpoint: 'https://api.github.com/user/emails',
        scopes: ['read:user', 'user:email'],
        claims: { subject: 'id', name: 'name' },
      }
    default:
      return {}
  }
}

/** The entry with its preset applied: what the service works with. */
export function resolveProvider(p: IdentityProviderEntry): ResolvedProvider {
  const d = presetDefaults(p)
  const type = p.type ?? d.type ?? 'oidc'
  return {
    alias: p.alias,
    displayName: p.display_name ?? d.display_name ?? p.alias,
    type,
    enabled: p.enabled,
    issuer: p.issuer ?? d.issuer,
    authorizationEndpoint: p.authorization_endpoint ?? d.authorization_endpoint,
    tokenEndpoint: p.token_endpoint ?? d.token_endpoint,
    userinfoEndpoint: p.userinfo_endpoint ?? d.userinfo_endpoint,
    emailsEndpoint: p.emails_endpoint ?? d.emails_endpoint,
    clientId: p.client_id,
    authMethod: p.token_endpoint_auth_method ?? (p.private_key_jwk ? 'private_key_jwt' : 'client_secret_basic'),
    scopes: p.scopes ?? d.scopes ?? (type === 'oidc' ? ['openid', 'email', 'profile'] : []),
    pkce: p.pkce,
    claims: {
      subject: p.claims?.subject ?? d.claims?.subject ?? 'sub',
      email: p.claims?.email ?? d.claims?.email ?? 'email',
      emailVerified: p.claims?.email_verified ?? d.claims?.emailVerified ?? 'email_verified',
      name: p.claims?.name ?? d.claims?.name ?? 'name',
      roles: p.claims?.roles ?? d.claims?.roles ?? 'roles',
    },
    trustEmail: p.trust_email,
    trustUpstreamMfa: p.trust_upstream_mfa,
    createUsers: p.create_users,
    linkExisting: p.link_existing,
    allowedEmailDomains: p.allowed_email_domains,
    defaultRoles: p.default_roles,
    roleMappings: p.role_mappings,
  }
}

import { z } from 'zod'
import { ACCEPTED_FORMATS, parsePasswordHash } from '../identity/password-hashes.ts'
import { apiKeyEntry } from '../apikeys/declarative.ts'
import { ACCOUNT_CLIENT_ID } from '../oidc/login-policy.ts'
import { APIKEY_EXCHANGE_CLIENT_ID } from '../oidc/apikey-exchange.ts'
import { ACCESS_TOKEN_SIGNING_ALGS } from '../oidc/queries/resources.ts'
import { identityProviderEntry } from '../federation/schema.ts'

// Built-in clients (the account pages, API key exchange): an imported client of the same id
// would be shadowed by them, so it is refused.
const RESERVED_CLIENT_IDS = new Set([ACCOUNT_CLIENT_ID, APIKEY_EXCHANGE_CLIENT_ID])

/**
 * Client metadata the import accepts: the RFC 7591 §2 / OpenID Connect Dynamic Client
 * Registration §2 metadata oidc-provider recognises with the features provider.ts enables
 * (RECOGNIZED_METADATA in oidc-provider's client schema, plus token_endpoint_auth_signing_alg,
 * post_logout_redirect_uris, require_pushed_authorization_requests and dpop_bound_access_tokens),
 * and our own `extraClientMetadata`. oidc-provider silently drops anything else, so an unknown
 * key — `scopes:` for `scope:` — would be a client with other authority than its author meant.
 */
export const CLIENT_METADATA_KEYS = [
  'client_id',
  'client_secret',
  'client_name',
  'client_uri',
  'logo_uri',
  'policy_uri',
  'tos_uri',
  'contacts',
  'redirect_uris',
  'post_logout_redirect_uris',
  'initiate_login_uri',
  'grant_types',
  'response_types',
  'response_modes',
  'scope',
  'application_type',
  'token_endpoint_auth_method',
  'token_endpoint_auth_signing_alg',
  'jwks',
  'jwks_uri',
  'default_acr_values',
  'default_max_age',
  'require_auth_time',
  'id_token_signed_response_alg',
  'subject_type',
  'sector_identifier_uri',
  'require_pushed_authorization_requests',
  'dpop_bound_access_tokens',
  'client_id_issued_at',
  'client_secret_expires_at',
  'backchannel_logout_uri',
  'backchannel_logout_session_required',
  // OpenID Connect Front-Channel Logout 1.0 §2 (src/oidc/frontchannel-logout.ts)
  'frontchannel_logout_uri',
  'frontchannel_logout_session_required',
  // JWE (src/oidc/encryption.ts): encrypted ID tokens (OIDC Core §10.2), request objects (RFC 9101 §6.1)
  'id_token_encrypted_response_alg',
  'id_token_encrypted_response_enc',
  'request_object_encryption_alg',
  'request_object_encryption_enc',
  // RFC 9101 request objects (src/oidc/request-objects.ts)
  'request_object_signing_alg',
  'require_signed_request_object',
  'request_uris',
  // RFC 8705 §2.1.2 and §3.4 (mutual TLS; offered when TLS_CERT/TLS_KEY or MTLS_CERT_HEADER is set)
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
  'tls_client_certificate_bound_access_tokens',
  // ours (oidc/provider/client-metadata.ts extraClientMetadata)
  'resource_servers',
  'authz_stores',
  'require_mfa',
  'allowed_ips',
  'require_pkce',
  'web_origins',
  'skip_consent',
] as const
const CLIENT_KEYS = new Set<string>(CLIENT_METADATA_KEYS)

/** The known key a misspelt one most likely meant (edit distance at most 2), for the message. */
function nearestKey(key: string): string | undefined {
  const distance = (a: string, b: string) => {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j)
    for (let i = 1; i <= a.length; i++) {
      let prev = row[0]!
      row[0] = i
      for (let j = 1; j <= b.length; j++) {
        const cur = row[j]!
        row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
        prev = cur
      }
    }
    return row[b.length]!
  }
  let best: { key: string; d: number } | undefined
  for (const k of CLIENT_METADATA_KEYS) {
    const d = distance(key.toLowerCase(), k)
    if (d <= 2 && (!best || d < best.d)) best = { key: k, d }
  }
  return best?.key
}

/**
 * The declarative configuration document (`portcullis import FILE`, PORTCULLIS_IMPORT), as
 * DESIGN.md gives it. Keys are snake_case like RFC 7591 client metadata. Unknown keys are
 * errors, so a typo is reported instead of silently ignored.
 */
const client = z
  .object({
    client_id: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
    client_secret: z.string().min(16, 'must be at least 16 characters').max(512).optional(),
    redirect_uris: z.array(z.string()).optional(),
    post_logout_redirect_uris: z.array(z.string()).optional(),
    grant_types: z.array(z.string()).optional(),
    response_types: z.array(z.string()).optional(),
    token_endpoint_auth_method: z
      .enum([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
        'none',
        'tls_client_auth',
        'self_signed_tls_client_auth',
      ])
      .optional(),
    // Without scope a client gets the OpenID scopes only (src/oidc/client-scopes.ts).
    scope: z
      .string()
      .refine((s) => s.trim() !== '', 'must name at least one scope (omit it for the OpenID scopes only)')
      .optional(),
    client_name: z.string().optional(),
    resource_servers: z.array(z.url()).optional(),
  })
  // The rest of CLIENT_METADATA_KEYS is checked by oidc-provider's own validation (apply.ts).
  .loose()
  .superRefine((c, ctx) => {
    for (const key of Object.keys(c).filter((k) => !CLIENT_KEYS.has(k))) {
      const near = nearestKey(key)
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `unknown client metadata${near ? ` (did you mean ${near}?)` : ''}`,
      })
    }
    if (RESERVED_CLIENT_IDS.has(c.client_id)) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: `${c.client_id} is reserved for a built-in client` })
    }
    const method = c.token_endpoint_auth_method ?? 'client_secret_basic'
    if ((method === 'client_secret_basic' || method === 'client_secret_post') && !c.client_secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: `required for token_endpoint_auth_method ${method}`,
      })
    }
    if ((method === 'tls_client_auth' || method === 'self_signed_tls_client_auth') && c.client_secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: `a ${method} client authenticates with its certificate and has no secret`,
      })
    }
    if (method === 'none' && c.client_secret) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: 'a public client (token_endpoint_auth_method none) has no secret',
      })
    }
  })

const user = z
  .object({
    email: z.email(),
    password: z.string().min(1).max(128).optional(),
    // A hash from this or another system (identity/password-hashes.ts); replaced by our argon2id
    // at the user's next successful sign-in. Formats and work limits are checked here, so a
    // hostile file is refused at import instead of stalling a sign-in.
    password_hash: z
      .string()
      .superRefine((v, ctx) => {
        const parsed = parsePasswordHash(v)
        if (parsed.ok) return
        ctx.addIssue({
          code: 'custom',
          message:
            parsed.reason === 'unknown_format'
              ? `not a password hash in an accepted format: ${ACCEPTED_FORMATS}`
              : `${parsed.reason === 'over_limit' ? 'over the work limit' : 'malformed'}: ${parsed.message}`,
        })
      })
      .optional(),
    name: z.string().max(200).optional(),
    roles: z.array(z.string().min(1)).optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    email_verified: z.boolean().optional(),
    // Disabled accounts cannot sign in and their API keys stop (identity/account-status.ts).
    disabled: z.boolean().optional(),
    // Strong login (issue 3): an existing TOTP secret (RFC 4648 base32, at least 128 bits), kept encrypted.
    totp_secret: z
      .string()
      .transform((v) => v.replace(/\s/g, '').toUpperCase())
      .pipe(z.string().regex(/^[A-Z2-7]{26,128}=*$/, 'must be a base32 secret of at least 128 bits'))
      .optional(),
    // password, password_hash and totp_secret are initial values, applied when the user is
    // created; an import never undoes the user's own change (DESIGN.md "Authority").
    // reset_password forces the file's password on an existing user, who must then choose a
    // new one at the next sign-in.
    reset_password: z.boolean().optional(),
    // A user created without password or password_hash gets an invitation mail with a
    // single-use set-password link (issue 14 §8); `invite: false` creates the account silently.
    invite: z.boolean().optional(),
  })
  .strict()
  .refine((u) => !(u.password && u.password_hash), {
    message: 'give either password or password_hash, not both',
    path: ['password_hash'],
  })
  .refine((u) => !u.reset_password || u.password || u.password_hash, {
    message: 'needs the password (or password_hash) to reset to',
    path: ['reset_password'],
  })
  .refine((u) => !u.invite || !(u.password || u.password_hash), {
    message: 'an invitation is for a user without a password: drop password/password_hash or invite',
    path: ['invite'],
  })

const scopeToken = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'not a valid scope token (RFC 6749 §3.3)')
/**
 * A resource scope: a plain string, or `{ name, description?, roles? }` naming the user roles
 * that hold it (issue 10 §1). A user holds a resource scope only through a role named here, so
 * a plain-string scope (or one without `roles`) is held by no user: clients may still be given
 * it in their `scope`, but no user can put it on an API key or get it in a token.
 */
const resourceScope = z.preprocess(
  // A plain string is `{ name }` (no roles): one schema, so errors name the field at fault.
  (v) => (typeof v === 'string' ? { name: v } : v),
  z
    .object(
      {
        name: scopeToken,
        description: z.string().max(500).optional(),
        // The description in other languages, for the consent page (issue 14 §7): {"de": "..."}.
        descriptions: z
          .record(
            z.string().regex(/^[a-z]{2,3}(-[A-Z]{2})?$/, 'must be a language tag such as de or pt-BR'),
            z.string().min(1).max(500),
          )
          .optional(),
        roles: z.array(z.string().min(1).max(200)).optional(),
      },
      {
        error: (iss) =>
          iss.code === 'invalid_type'
            ? 'must be a scope name or { name, description, descriptions, roles }'
            : undefined,
      },
    )
    .strict(),
)

const resource = z
  .object({
    indicator: z.url().refine((u) => !u.includes('#'), 'must not contain a fragment (RFC 8707 §2)'),
    scopes: z.array(resourceScope).default([]),
    access_token_format: z.enum(['jwt', 'opaque']).default('jwt'),
    access_token_ttl: z
      .number()
      .int()
      .positive()
      .max(86400 * 30)
      .default(3600),
    // JWS alg of its JWT access tokens (issue 16 §1); all three keys are published at /jwks.
    access_token_signing_alg: z.enum(ACCESS_TOKEN_SIGNING_ALGS).default('ES256'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const seen = new Set<string>()
    r.scopes.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['scopes', i], message: `duplicate scope ${s.name}` })
      seen.add(s.name)
    })
  })
  // Downstream code sees scope names in `scopes` and the details apart, in `scope_details`.
  .transform(({ scopes, ...rest }) => ({
    ...rest,
    scopes: scopes.map((s) => s.name),
    scope_details: Object.fromEntries(
      scopes.flatMap((s) =>
        s.description === undefined && s.descriptions === undefined && s.roles === undefined
          ? []
          : [
              [
                s.name,
                {
                  ...(s.description !== undefined ? { description: s.description } : {}),
                  ...(s.descriptions ? { descriptions: s.descriptions } : {}),
                  roles: [...new Set(s.roles ?? [])],
                },
              ],
            ],
      ),
    ) as Record<string, { description?: string; descriptions?: Record<string, string>; roles: string[] }>,
  }))

// Policy stores (issue 4): the model is a file in policies/ or the model text; the policy is
// CSV text (one `p, ...` / `g, ...` line per line). Applying a changed store commits a version.
const policyStore = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, _ and -, at most 64'),
    model: z.string().min(1),
    policy: z.string().default(''),
    options: z.record(z.string(), z.unknown()).optional(),
    description: z.string().max(500).optional(),
  })
  .strict()

export const importDocument = z
  .object({
    policy_stores: z.array(policyStore).default([]),
    clients: z.array(client).default([]),
    users: z.array(user).default([]),
    resources: z.array(resource).default([]),
    // API keys (issue 5): owner, name, scopes, level, expiry; secrets are never imported.
    api_keys: z.array(apiKeyEntry).default([]),
    // Upstream identity providers users may sign in with (issue 14 §6, federation/schema.ts).
    identity_providers: z.array(identityProviderEntry).default([]),
  })
  .strict()

export type ImportDocument = z.infer<typeof importDocument>
export type ImportClient = z.infer<typeof client>
export type ImportUser = z.infer<typeof user>

import path from 'node:path'
import { z } from 'zod'
import { ConfigError } from '../errors.ts'
import { parseCidr } from '../net/ip.ts'
import { parseAdminWindow } from './admin-window.ts'
import { parseSyslogUrl } from './syslog-url.ts'
import { readTls, type TlsMaterial } from './tls.ts'
import { RATE_CLASSES, parseRateLimit, rateLimitEnvName, type RateLimit } from '../http/rate-limit-classes.ts'

/**
 * Every environment variable portcullis reads, validated once at start and frozen.
 * `.env.example` documents each one; keep the two in step.
 */
/** The security notices a deployment can send (SECURITY_NOTICES); identity/security-notices.ts. */
export const SECURITY_NOTICE_KINDS = [
  'new_device',
  'password_changed',
  'mfa_changed',
  'api_key_created',
  'account_locked',
] as const
export type SecurityNotice = (typeof SECURITY_NOTICE_KINDS)[number]

/** What DYNAMIC_REGISTRATION_SCOPES may name: the OpenID scopes (OIDC Core §5.4, §11). */
const DCR_SCOPES_ALLOWED = ['openid', 'profile', 'email', 'address', 'phone', 'offline_access']

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes')
const seconds = (def: number) =>
  z.coerce
    .number({ message: 'must be a number of seconds' })
    .int('must be a whole number of seconds')
    .positive('must be positive')
    .default(def)

// A colour goes into a stylesheet and mail markup: only plain hex, nothing that could end the rule.
const hexColour = z.string().regex(/^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a hex colour, e.g. #2853c9')

const isCidr = (c: string) => {
  try {
    parseCidr(c)
    return true
  } catch {
    return false
  }
}

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce
      .number({ message: 'must be a port number' })
      .int()
      .min(0)
      .max(65535, 'must be a port number (0-65535)')
      .default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: z
      .url({ message: 'must be an absolute http(s) URL' })
      .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
      .optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    DATABASE_URL: z
      .string()
      .refine(
        (u) => u.startsWith('file:') || /^postgres(ql)?:\/\//.test(u),
        'must start with file: (SQLite) or postgresql://',
      )
      .optional(),
    REDIS_URL: z
      .string()
      .refine((u) => /^rediss?:\/\//.test(u), 'must start with redis:// or rediss://')
      .optional(),
    REDIS_PREFIX: z.string().default('portcullis:'),
    PORTCULLIS_MASTER_KEY: z.string().optional(),
    PORTCULLIS_ADMIN_EMAIL: z.email({ message: 'must be an email address' }).optional(),
    PORTCULLIS_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').max(128).optional(),
    // The admin console (docs/administration.md): a second factor at every console sign-in.
    ADMIN_CONSOLE_REQUIRE_MFA: bool.default(true),
    PORTCULLIS_IMPORT: z.string().min(1).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    TRUST_PROXY: bool.default(false),
    /** let outgoing provider requests (back-channel logout, jwks_uri) reach private/loopback addresses */
    OUTBOUND_PRIVATE_ADDRESSES: bool.default(false),
    ACCESS_TOKEN_TTL: seconds(3600),
    ID_TOKEN_TTL: seconds(3600),
    REFRESH_TOKEN_TTL: seconds(14 * 24 * 3600),
    AUTHORIZATION_CODE_TTL: seconds(60),
    SESSION_TTL: seconds(14 * 24 * 3600),
    INTERACTION_TTL: seconds(3600),
    DEVICE_CODE_TTL: seconds(600),
    KEYS_REFRESH_INTERVAL: seconds(30),
    PASSWORD_MIN_LENGTH: z.coerce
      .number({ message: 'must be a number' })
      .int()
      .min(8, 'must be at least 8 (NIST SP 800-63B)')
      .max(64, 'must be at most 64')
      .default(12),
    // Strong login (issue 3): brute-force lockout and sign-in session timeouts.
    LOGIN_MAX_FAILURES: z.coerce
      .number({ message: 'must be a number' })
      .int()
      .min(1, 'must be at least 1')
      .max(100, 'must be at most 100')
      .default(5),
    LOGIN_LOCKOUT_SECONDS: seconds(900),
    LOGIN_IP_MAX_FAILURES: z.coerce
      .number({ message: 'must be a number' })
      .int()
      .min(1, 'must be at least 1')
      .default(100),
    LOGIN_FAILURE_DELAY_MS: z.coerce
      .number({ message: 'must be a number of milliseconds' })
      .int()
      .min(0)
      .max(5000, 'must be at most 5000')
      .default(250),
    SESSION_IDLE_TIMEOUT: seconds(1800),
    SHUTDOWN_TIMEOUT: seconds(10),
    // `portcullis serve --workers` when the flag is absent: a count or `auto` (one per core); see cluster.ts.
    WORKERS: z
      .string()
      .regex(/^(auto|[1-9][0-9]{0,2})$/, 'must be a number of workers (1-999) or auto')
      .optional(),
    // Bounded waits (issue 16 §3): no request waits longer than these on a database or Redis
    // that is down or frozen; it gets a 503 with Retry-After instead (src/db/unavailable.ts).
    DB_CONNECT_TIMEOUT: seconds(5),
    DB_QUERY_TIMEOUT: seconds(10),
    DB_STARTUP_TIMEOUT: seconds(60),
    REDIS_CONNECT_TIMEOUT: seconds(5),
    REDIS_COMMAND_TIMEOUT: seconds(3),
    // Audit log, monitoring and metrics (issue 6)
    AUDIT_CHECKPOINT_INTERVAL: seconds(600),
    AUDIT_RETENTION_DAYS: z.coerce
      .number({ message: 'must be a number of days' })
      .int('must be a whole number of days')
      .positive('must be positive')
      .default(365),
    AUDIT_WEBHOOK_URL: z
      .url({ message: 'must be an absolute http(s) URL' })
      .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
      .optional(),
    AUDIT_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    AUDIT_SYSLOG_URL: z
      .string()
      .superRefine((v, ctx) => {
        const e = parseSyslogUrl(v)
        if (typeof e === 'string') ctx.addIssue({ code: 'custom', message: e })
      })
      .optional(),
    AUDIT_SYSLOG_FORMAT: z.enum(['cef', 'json'], { message: 'must be cef or json' }).default('cef'),
    AUDIT_ADMIN_WINDOW: z
      .string()
      .superRefine((v, ctx) => {
        const w = parseAdminWindow(v)
        if (typeof w === 'string') ctx.addIssue({ code: 'custom', message: w })
      })
      .optional(),
    METRICS_LISTEN: z
      .string()
      .regex(/^(\[[0-9a-fA-F:]+\]|[\w.-]+):\d{1,5}$/, 'must be host:port, e.g. 127.0.0.1:9464')
      .optional(),
    API_KEY_EXPIRY_WARNING_DAYS: z.coerce
      .number({ message: 'must be a number of days' })
      .int()
      .positive('must be positive')
      .default(14),
    // API keys (issue 5). TRUSTED_PROXIES: comma-separated CIDRs of our own proxies, whose
    // X-Forwarded-For is believed for client IPs (src/http/client-ip.ts).
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine((list) => list.every(isCidr), 'must be a comma-separated list of IP addresses or CIDRs'),
    // Mutual TLS (RFC 8705; docs/oauth-oidc.md). TLS_CERT/TLS_KEY: PEM files; with both, the main
    // listener speaks HTTPS (TLS 1.3) and asks for an optional client certificate. TLS_CLIENT_CA:
    // PEM bundle of the CAs whose client certificates tls_client_auth accepts (config/tls.ts).
    TLS_CERT: z.string().optional(),
    TLS_KEY: z.string().optional(),
    TLS_CLIENT_CA: z.string().optional(),
    // A header in which a TLS-terminating proxy passes the client certificate (URL-encoded PEM, as
    // nginx's $ssl_client_escaped_cert), believed only from TRUSTED_PROXIES (http/client-cert.ts).
    MTLS_CERT_HEADER: z
      .string()
      .regex(/^[A-Za-z0-9-]{1,100}$/, 'must be an HTTP header name, e.g. X-SSL-Client-Cert')
      .transform((v) => v.toLowerCase())
      .optional(),
    // How that header carries the certificate: `escaped-pem` (nginx) or `envoy-xfcc` (Envoy's
    // x-forwarded-client-cert, `Cert="<URL-encoded PEM>"` of the first element; http/xfcc.ts),
    // whose header name is the default of MTLS_CERT_HEADER then.
    MTLS_CERT_HEADER_FORMAT: z
      .enum(['escaped-pem', 'envoy-xfcc'], { message: 'must be escaped-pem or envoy-xfcc' })
      .default('escaped-pem'),
    // The addresses operators may call the management APIs from (src/http/middleware/
    // management-ips.ts); empty: anywhere, as before.
    MANAGEMENT_ALLOWED_IPS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .refine((list) => list.every(isCidr), 'must be a comma-separated list of IP addresses or CIDRs'),
    APIKEY_SIGNATURE_MAX_SKEW: seconds(300),
    // Longest life of a JWT access token exchanged for an API key (oidc/apikey-exchange.ts).
    APIKEY_EXCHANGE_TTL: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(1)
      .max(3600, 'must be at most 3600 (1 hour)')
      .default(900),
    // RFC 8693 exchange of a user's access token (oidc/token-exchange.ts): the policy store that
    // decides ["client:<id>", "<audience>", "delegate" | "impersonate"], and the longest life.
    TOKEN_EXCHANGE_POLICY_STORE: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'must be a policy store name')
      .default('token-exchange'),
    TOKEN_EXCHANGE_TTL: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(1)
      .max(3600, 'must be at most 3600 (1 hour)')
      .default(300),
    APIKEY_ROTATION_GRACE: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(0)
      .max(7 * 86400, 'must be at most 604800 (7 days)')
      .default(86400),
    // HTTP limits against slow clients (slowloris; src/server.ts): headers must arrive within
    // HTTP_HEADERS_TIMEOUT, the whole request within HTTP_REQUEST_TIMEOUT, and an idle
    // keep-alive connection is closed after HTTP_KEEPALIVE_TIMEOUT.
    HTTP_HEADERS_TIMEOUT: seconds(20),
    HTTP_REQUEST_TIMEOUT: seconds(60),
    HTTP_KEEPALIVE_TIMEOUT: seconds(5),
    // Rate limits per endpoint class: RATE_LIMIT_<CLASS> (src/http/rate-limit-classes.ts), read
    // by readRateLimits below from the one table of classes.
    // Outgoing mail (issue 14 §1, src/mail/). Without SMTP_URL mails are written to
    // DATA_DIR/mail/*.eml (embedded mode). Credentials go in the URL (smtp://user:pass@host:587).
    SMTP_URL: z
      .string()
      .refine((u) => {
        try {
          const url = new URL(u)
          return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== ''
        } catch {
          return false
        }
      }, 'must be smtp://[user:pass@]host[:port] (STARTTLS) or smtps://... (implicit TLS)')
      .optional(),
    MAIL_FROM: z
      .string()
      .max(320)
      .refine(
        (v) => /^([^<>\r\n]*<)?[^\s@<>]+@[^\s@<>]+>?$/.test(v.trim()),
        'must be an address, e.g. "Example ID <id@example.com>" or id@example.com',
      )
      .optional(),
    // smtp:// only: refuse to send unless the server offers STARTTLS (no cleartext fallback).
    SMTP_REQUIRE_STARTTLS: bool.default(true),
    // Check the SMTP server's certificate (turn off only for a self-signed test relay).
    SMTP_TLS_REJECT_UNAUTHORIZED: bool.default(true),
    MAIL_MAX_ATTEMPTS: z.coerce
      .number({ message: 'must be a number' })
      .int()
      .min(1, 'must be at least 1')
      .max(50, 'must be at most 50')
      .default(12),
    // The name every page and mail carries (the brand; see BRAND_* below).
    PRODUCT_NAME: z
      .string()
      .trim()
      .min(1)
      .max(80)
      .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), 'must not contain control characters')
      .default('portcullis'),
    // Branding (issue 14 §7, src/views/brand.ts): every page and mail carries these.
    BRAND_LOGO_URL: z
      .url({ message: 'must be an absolute http(s) URL of an image' })
      .refine((u) => /^https?:\/\//.test(u), 'must start with http:// or https://')
      .optional(),
    BRAND_PRIMARY_COLOR: hexColour.optional(),
    BRAND_BACKGROUND_COLOR: hexColour.optional(),
    BRAND_SUPPORT_URL: z
      .url({ message: 'must be an absolute http(s) or mailto: URL' })
      .refine((u) => /^(https?:\/\/|mailto:)/.test(u), 'must start with http://, https:// or mailto:')
      .optional(),
    // Forgotten password (issue 14 §3).
    PASSWORD_RESET_TTL: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(60, 'must be at least 60')
      .max(86400, 'must be at most 86400 (1 day)')
      .default(1800),
    PASSWORD_RESET_ENDS_SESSIONS: bool.default(true),
    PASSWORD_RESET_PER_ADDRESS: z.coerce.number({ message: 'must be a number' }).int().min(1).default(3),
    PASSWORD_RESET_PER_IP: z.coerce.number({ message: 'must be a number' }).int().min(1).default(20),
    // Email verification links (issue 14 §2).
    EMAIL_VERIFY_TTL: z.coerce
      .number({ message: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(60, 'must be at least 60')
      .max(7 * 86400, 'must be at most 604800 (7 days)')
      .default(86400),
    // Self-registration (issue 14 §4): off unless turned on. Allowed domains: comma-separated
    // (`example.com,*.example.org`); empty allows any address.
    REGISTRATION_ENABLED: bool.default(false),
    // Dynamic client registration (RFC 7591/7592, src/oidc/dynamic-registration.ts): off, only with
    // an initial access token (`portcullis clients create-iat`), or open to anyone.
    DYNAMIC_REGISTRATION: z
      .enum(['off', 'initial-access-token', 'open'], { message: 'must be off, initial-access-token or open' })
      .default('off'),
    // The scopes a dynamically registered client may hold at most (never management scopes).
    // The scopes a dynamically registered client may hold at most: OpenID scopes only, so such a
    // client never holds a management scope (admin, authz:*) or an API's scope.
    DYNAMIC_REGISTRATION_SCOPES: z
      .string()
      .default('openid profile email address phone offline_access')
      .transform((v) => v.split(/[\s,]+/).filter(Boolean))
      .refine(
        (l) => l.every((s) => DCR_SCOPES_ALLOWED.includes(s)),
        `must be a space-separated list of: ${DCR_SCOPES_ALLOWED.join(' ')}`,
      ),
    // Initial access tokens' lifetime (RFC 7591 §3: issued out of band to developers).
    DYNAMIC_REGISTRATION_IAT_TTL: seconds(7 * 24 * 3600),
    // RFC 9101 request objects: `request` by value and `request_uri` by reference (the client's
    // registered `request_uris` only); `REQUEST_OBJECTS=off` turns both off.
    REQUEST_OBJECTS: z.enum(['on', 'off'], { message: 'must be on or off' }).default('on'),
    REGISTRATION_ALLOWED_DOMAINS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean),
      )
      .refine(
        (list) => list.every((d) => /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(d)),
        'must be a comma-separated list of domains (example.com or *.example.com)',
      ),
    // Proof of work a browser solves before the sign-up form is accepted (identity/signup-challenge.ts):
    // leading zero bits of SHA-256; 0 turns it off (rate limits still apply).
    REGISTRATION_POW_BITS: z.coerce
      .number({ message: 'must be a number of bits' })
      .int()
      .min(0)
      .max(28, 'must be at most 28')
      .default(16),
    // Sign-up mails per address per hour (silent beyond it; the IP limit is RATE_LIMIT_SIGNUP).
    REGISTRATION_PER_ADDRESS: z.coerce.number({ message: 'must be a number' }).int().min(1).default(3),
    // Security notices mailed to users (issue 14 §5): a comma-separated list, `all` or `none`.
    SECURITY_NOTICES: z
      .string()
      .default('all')
      .transform((v, ctx) => {
        const list = v
          .split(',')
          .map((s) => s.trim().toLowerCase())
          .filter(Boolean)
        if (list.length === 1 && list[0] === 'none') return [] as SecurityNotice[]
        if (list.length === 1 && list[0] === 'all') return [...SECURITY_NOTICE_KINDS]
        const bad = list.filter((k) => !(SECURITY_NOTICE_KINDS as readonly string[]).includes(k))
        if (bad.length)
          ctx.addIssue({
            code: 'custom',
            message: `unknown notice ${bad.join(', ')}: use all, none or a list of ${SECURITY_NOTICE_KINDS.join(', ')}`,
          })
        return list as SecurityNotice[]
      }),
  })
  .refine((c) => c.HTTP_HEADERS_TIMEOUT <= c.HTTP_REQUEST_TIMEOUT, {
    message: 'must not be longer than HTTP_REQUEST_TIMEOUT',
    path: ['HTTP_HEADERS_TIMEOUT'],
  })

type Raw = z.infer<typeof schema>
export interface Config extends Omit<Raw, 'PUBLIC_URL' | 'DATABASE_URL'> {
  PUBLIC_URL: string
  DATABASE_URL: string
  /** SQLite file with generated secrets in DATA_DIR: the zero-setup mode. */
  embedded: boolean
  /** budget per rate-limit class (name -> limit, null: not limited); see rate-limit-classes.ts */
  RATE_LIMITS: Readonly<Record<string, RateLimit | null>>
  /** TLS_CERT/TLS_KEY/TLS_CLIENT_CA, read and checked at start; undefined when none is set */
  tls?: Readonly<TlsMaterial>
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  // Empty strings count as unset: `FOO=` in a .env file should mean "use the default".
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = schema.safeParse(input)
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}${showValue(i.path[0], input)}`)
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`)
  }
  const raw = parsed.data
  const rateLimits = readRateLimits(input)
  if (raw.MTLS_CERT_HEADER_FORMAT === 'envoy-xfcc') raw.MTLS_CERT_HEADER ??= 'x-forwarded-client-cert'
  if (raw.MTLS_CERT_HEADER && !raw.TRUSTED_PROXIES.length)
    throw new ConfigError(
      'invalid configuration:\n  MTLS_CERT_HEADER: needs TRUSTED_PROXIES (the header is believed only from those proxies)',
    )
  const tls = readTls(raw)
  if (raw.SMTP_URL && !raw.MAIL_FROM)
    throw new ConfigError(
      'invalid configuration:\n  MAIL_FROM: required when SMTP_URL is set (the sender address of every mail)',
    )
  const dataDir = path.resolve(raw.DATA_DIR)
  const databaseUrl = raw.DATABASE_URL ?? `file:${path.join(dataDir, 'portcullis.db')}`
  const publicUrl = (raw.PUBLIC_URL ?? `http://localhost:${raw.PORT || 3000}`).replace(/\/+$/, '')
  return Object.freeze({
    ...raw,
    DATA_DIR: dataDir,
    PUBLIC_URL: publicUrl,
    DATABASE_URL: databaseUrl,
    embedded: databaseUrl.startsWith('file:'),
    RATE_LIMITS: Object.freeze(rateLimits),
    ...(tls ? { tls: Object.freeze(tls) } : {}),
  })
}

/** `POINTS/SECONDS` or `off` (rate-limit-classes.ts parseRateLimit), as a zod schema. */
const rateLimitValue = z.string().transform((v, ctx): RateLimit | null => {
  const parsed = parseRateLimit(v)
  if (typeof parsed !== 'string') return parsed
  ctx.addIssue({ code: 'custom', message: `${parsed} (got ${JSON.stringify(v)})` })
  return z.NEVER
})

/** RATE_LIMIT_<CLASS> for every class of the table; unset: the class's default. */
function readRateLimits(input: Record<string, string | undefined>): Record<string, RateLimit | null> {
  const out: Record<string, RateLimit | null> = {}
  const problems: string[] = []
  for (const c of RATE_CLASSES) {
    const name = rateLimitEnvName(c)
    const value = input[name]
    if (value === undefined || c.points === null) {
      out[c.name] = c.points === null ? null : { points: c.points, duration: c.duration }
      if (value !== undefined) problems.push(`  ${name}: the ${c.name} class is never limited (${c.note})`)
      continue
    }
    const parsed = rateLimitValue.safeParse(value)
    if (parsed.success) out[c.name] = parsed.data
    else problems.push(...parsed.error.issues.map((i) => `  ${name}: ${i.message}`))
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`)
  return out
}

function showValue(key: PropertyKey | undefined, input: Record<string, unknown>) {
  if (typeof key !== 'string' || /KEY|PASSWORD|SECRET|URL/.test(key)) return '' // never echo secrets
  const v = input[key]
  return v === undefined ? '' : ` (got ${JSON.stringify(v)})`
}

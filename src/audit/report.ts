import type { UserRecord } from '../identity/queries.ts'
import type { ClientRow } from '../oidc/queries/clients.ts'
import type { ResourceRow } from '../oidc/queries/resources.ts'
import type { AuditQueries } from './queries.ts'
import type { VerifyResult } from './verify.ts'
import { allEvents } from './export.ts'
import { isManagementScope } from '../oidc/api-resource.ts'
import { effectiveClientScope } from '../oidc/client-scopes.ts'

/**
 * The point-in-time compliance report. It reads what the server knows (users, clients,
 * resources, signing keys, the audit log) and asks optional providers for what other features
 * own: MFA factors, API keys, policy changes. Without a provider its section says
 * `available: false` instead of guessing.
 */
export interface ApiKeyInfo {
  id: string
  name?: string | null
  owner?: string | null
  scopes?: string[]
  createdAt: Date
  lastUsedAt?: Date | null
  expiresAt?: Date | null
  revoked?: boolean
}
export interface PolicyChange {
  store: string
  version?: number | null
  author?: string | null
  reason?: string | null
  time: Date
  action?: string
}
export interface ComplianceProviders {
  /** the user's enrolled second factors ([] = none); 'unknown' when MFA is not available */
  mfaFactors?: (user: UserRecord) => Promise<string[] | 'unknown'>
  apiKeys?: () => Promise<ApiKeyInfo[]>
  policyChanges?: (from: Date, to: Date) => Promise<PolicyChange[]>
}

/** Where features plug their providers in: `c.compliance.provide({ apiKeys: ... })`. */
export function complianceProviders() {
  const providers: ComplianceProviders = {}
  return {
    providers,
    provide(p: ComplianceProviders) {
      Object.assign(providers, p)
    },
  }
}
export type Compliance = ReturnType<typeof complianceProviders>

export interface ReportDeps {
  users: () => Promise<UserRecord[]>
  clients: () => Promise<ClientRow[]>
  resources: () => Promise<ResourceRow[]>
  keys: () => Promise<
    { kid: string; alg: string; status: string; createdAt: Date; activatedAt: Date | null; retiredAt: Date | null }[]
  >
  audit: AuditQueries
  verify: () => Promise<VerifyResult>
  providers: ComplianceProviders
  config: {
    PUBLIC_URL: string
    ACCESS_TOKEN_TTL: number
    ID_TOKEN_TTL: number
    REFRESH_TOKEN_TTL: number
    API_KEY_EXPIRY_WARNING_DAYS: number
  }
}

export const REPORT_LIMITS = {
  /** API keys unused for this long are stale */
  staleKeyDays: 90,
  /** access tokens living longer than this are long-lived (RFC 9700 §4.10.2 favours short ones) */
  longAccessTokenSeconds: 3600,
  longRefreshTokenSeconds: 30 * 86_400,
  /** signing keys older than this should be rotated */
  signingKeyMaxAgeDays: 180,
}

/** A management scope of portcullis's API, or an `*:admin` scope of any resource. */
const isAdministrativeScope = (s: string) => isManagementScope(s) || s.endsWith(':admin')
const isAdminRole = (r: string) => /(^|[:_.-])admin(istrator)?s?$/i.test(r) || r === 'root'
const day = 86_400_000
const isLoopback = (u: URL) => ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)

function clientFindings(c: ClientRow, cfg: ReportDeps['config']) {
  const m = c.metadata
  const out: { client_id: string; issue: string; severity: 'low' | 'medium' | 'high'; detail: string }[] = []
  const auth = String(m.token_endpoint_auth_method ?? 'client_secret_basic')
  const grants = (m.grant_types as string[] | undefined) ?? ['authorization_code']
  const redirects = ((m.redirect_uris as string[] | undefined) ?? []).flatMap((u) => {
    try {
      return [new URL(u)]
    } catch {
      return []
    }
  })
  const add = (issue: string, severity: 'low' | 'medium' | 'high', detail: string) =>
    out.push({ client_id: c.clientId, issue, severity, detail })
  // PKCE is required for every code-flow client unless exempted with `require_pkce: false`.
  if (m.require_pkce === false && grants.includes('authorization_code')) {
    add(
      'pkce_not_required',
      'medium',
      'require_pkce: false exempts this code-flow client from PKCE (RFC 9700 §2.1.1 recommends PKCE for every client)',
    )
  }
  // A first-party client (issue 16 §1): its users are never shown what it asks for.
  if (m.skip_consent === true) {
    add(
      'skips_consent',
      'low',
      'skip_consent: true: users are not asked to consent; the client gets the OpenID scopes it asks for and the resource scopes the user holds',
    )
  }
  const plain = redirects.filter((u) => u.protocol === 'http:' && !isLoopback(u))
  if (plain.length) {
    add(
      'http_redirect_uri',
      auth.startsWith('client_secret') ? 'high' : 'medium',
      `redirect URIs over plain http (${plain.map((u) => u.href).join(', ')}): codes travel unencrypted${auth.startsWith('client_secret') ? `; the client authenticates with ${auth}` : ''}`,
    )
  }
  if (grants.includes('refresh_token') && cfg.REFRESH_TOKEN_TTL > REPORT_LIMITS.longRefreshTokenSeconds) {
    add(
      'long_lived_refresh_tokens',
      'low',
      `refresh tokens live ${Math.round(cfg.REFRESH_TOKEN_TTL / 86_400)} days (REFRESH_TOKEN_TTL)`,
    )
  }
  if (auth === 'client_secret_post')
    add(
      'secret_in_body',
      'low',
      'client_secret_post sends the secret in the request body; prefer private_key_jwt or client_secret_basic',
    )
  if (
    grants.includes('urn:ietf:params:oauth:grant-type:device_code') &&
    auth === 'none' &&
    grants.includes('refresh_token')
  ) {
    add('public_device_client_with_refresh', 'low', 'public device-flow client receives refresh tokens')
  }
  return out
}

/** Live API keys never used, stale, near expiry, expired or without expiry. */
function apiKeySection(liveKeys: ApiKeyInfo[] | undefined, now: Date, warningDays: number): Record<string, unknown> {
  if (!liveKeys) return { available: false }
  const all = liveKeys
  const warn = now.getTime() + warningDays * day
  const key = (k: ApiKeyInfo) => ({
    id: k.id,
    name: k.name ?? null,
    owner: k.owner ?? null,
    created_at: k.createdAt.toISOString(),
    last_used_at: k.lastUsedAt?.toISOString() ?? null,
    expires_at: k.expiresAt?.toISOString() ?? null,
  })
  return {
    available: true,
    total: all.length,
    never_used: all.filter((k) => !k.lastUsedAt).map(key),
    stale: all
      .filter((k) => k.lastUsedAt && k.lastUsedAt.getTime() < now.getTime() - REPORT_LIMITS.staleKeyDays * day)
      .map(key),
    near_expiry: all
      .filter((k) => k.expiresAt && k.expiresAt.getTime() > now.getTime() && k.expiresAt.getTime() <= warn)
      .map(key),
    expired: all.filter((k) => k.expiresAt && k.expiresAt.getTime() <= now.getTime()).map(key),
    without_expiry: all.filter((k) => !k.expiresAt).map(key),
  }
}

/** Policy changes: from the provider, else from the audit log's policy.* events. */
async function policyChangesIn(deps: ReportDeps, from: Date, now: Date) {
  if (deps.providers.policyChanges)
    return { changes: await deps.providers.policyChanges(from, now), source: 'provider' as const }
  const changes: PolicyChange[] = []
  for await (const e of allEvents(deps.audit, { action: 'policy.*', from, to: now })) {
    const d = JSON.parse(e.details) as { version?: number; reason?: string | null }
    changes.push({
      store: e.target ?? '',
      version: d.version ?? null,
      author: e.actor,
      reason: d.reason ?? null,
      time: e.time,
      action: e.action,
    })
  }
  return { changes, source: 'audit_log' as const }
}

/** Access review campaigns completed in the period (admin/reviews.ts writes their outcome here). */
async function accessReviewsIn(audit: ReportDeps['audit'], from: Date, now: Date) {
  const accessReviews: {
    id: string
    name: string
    completed_at: string
    completed_by: string | null
    confirmed: number
    revoked: number
    revocations: unknown[]
  }[] = []
  for await (const e of allEvents(audit, { action: 'access_review.completed', from, to: now })) {
    const d = JSON.parse(e.details) as { name?: string; confirmed?: number; revoked?: number; revocations?: unknown[] }
    accessReviews.push({
      id: (e.target ?? '').replace(/^access-review:/, ''),
      name: d.name ?? '',
      completed_at: e.time.toISOString(),
      completed_by: e.actor,
      confirmed: d.confirmed ?? 0,
      revoked: d.revoked ?? 0,
      revocations: d.revocations ?? [],
    })
  }
  return accessReviews
}

export async function buildReport(deps: ReportDeps, opts: { days?: number; now?: Date } = {}) {
  const now = opts.now ?? new Date()
  const from = new Date(now.getTime() - (opts.days ?? 30) * day)
  const [users, clients, resources, keys, verify] = await Promise.all([
    deps.users(),
    deps.clients(),
    deps.resources(),
    deps.keys(),
    deps.verify(),
  ])

  // Users and MFA
  const mfaProvider = deps.providers.mfaFactors
  const factorsOf = new Map<string, string[] | 'unknown'>()
  for (const u of users) factorsOf.set(u.id, mfaProvider ? await mfaProvider(u) : 'unknown')
  const brief = (u: UserRecord) => ({
    id: u.id,
    email: u.email,
    roles: u.roles,
    disabled: u.disabled,
    last_login_at: u.lastLoginAt?.toISOString() ?? null,
    mfa: factorsOf.get(u.id) ?? 'unknown',
  })
  const active = users.filter((u) => !u.disabled)
  const withoutMfa = active.filter((u) => {
    const f = factorsOf.get(u.id)
    return Array.isArray(f) && f.length === 0
  })

  // API keys
  const liveKeys = deps.providers.apiKeys ? (await deps.providers.apiKeys()).filter((k) => !k.revoked) : undefined
  const apiKeys = apiKeySection(liveKeys, now, deps.config.API_KEY_EXPIRY_WARNING_DAYS)

  // Policy changes: from the provider, else from the audit log's policy.* events.
  const { changes: policyChanges, source: policySource } = await policyChangesIn(deps, from, now)

  const alerts: Record<string, number> = {}
  for await (const e of allEvents(deps.audit, { action: 'alert.*', from, to: now }))
    alerts[e.action.slice(6)] = (alerts[e.action.slice(6)] ?? 0) + 1

  // Access review campaigns completed in the period (admin/reviews.ts writes their outcome here).
  const accessReviews = await accessReviewsIn(deps.audit, from, now)

  const longResources = resources.filter((r) => r.accessTokenTtl > REPORT_LIMITS.longAccessTokenSeconds)
  const signingKeys = keys
    .filter((k) => k.status !== 'retired')
    .map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status: k.status,
      created_at: k.createdAt.toISOString(),
      age_days: Math.floor((now.getTime() - (k.activatedAt ?? k.createdAt).getTime()) / day),
    }))

  return {
    generated_at: now.toISOString(),
    issuer: deps.config.PUBLIC_URL,
    period: { from: from.toISOString(), to: now.toISOString() },
    users: {
      total: users.length,
      disabled: users.length - active.length,
      mfa: {
        available: Boolean(mfaProvider),
        without_mfa: withoutMfa.map(brief),
        unknown: active.filter((u) => factorsOf.get(u.id) === 'unknown').length,
      },
    },
    administrators: {
      users: users.filter((u) => u.roles.some(isAdminRole)).map(brief),
      // Who can obtain a management scope: clients by their effective scope (client-scopes.ts;
      // a client without `scope` gets none), keys by the scopes they carry.
      clients: clients
        .map((c) => ({
          client_id: c.clientId,
          scopes: effectiveClientScope(c.metadata).split(' ').filter(isAdministrativeScope),
        }))
        .filter((c) => c.scopes.length),
      api_keys: liveKeys
        ? liveKeys
            .map((k) => ({
              id: k.id,
              name: k.name ?? null,
              owner: k.owner ?? null,
              scopes: (k.scopes ?? []).filter(isAdministrativeScope),
              expires_at: k.expiresAt?.toISOString() ?? null,
            }))
            .filter((k) => k.scopes.length)
        : null,
    },
    api_keys: apiKeys,
    clients: {
      total: clients.length,
      findings: clients.flatMap((c) => clientFindings(c, deps.config)),
      skip_consent: clients.filter((c) => c.metadata.skip_consent === true).map((c) => c.clientId),
    },
    tokens: {
      access_token_ttl: deps.config.ACCESS_TOKEN_TTL,
      id_token_ttl: deps.config.ID_TOKEN_TTL,
      refresh_token_ttl: deps.config.REFRESH_TOKEN_TTL,
      long_lived_access_tokens: [
        ...(deps.config.ACCESS_TOKEN_TTL > REPORT_LIMITS.longAccessTokenSeconds
          ? [{ resource: '(default)', ttl: deps.config.ACCESS_TOKEN_TTL }]
          : []),
        ...longResources.map((r) => ({ resource: r.indicator, ttl: r.accessTokenTtl })),
      ],
    },
    signing_keys: {
      keys: signingKeys,
      oldest_active_age_days: Math.max(0, ...signingKeys.filter((k) => k.status === 'active').map((k) => k.age_days)),
      rotation_due: signingKeys.some((k) => k.status === 'active' && k.age_days > REPORT_LIMITS.signingKeyMaxAgeDays),
    },
    policy_changes: { source: policySource, changes: policyChanges.map((p) => ({ ...p, time: p.time.toISOString() })) },
    alerts,
    access_reviews: { completed: accessReviews },
    audit: {
      ok: verify.ok,
      records: verify.records,
      first_seq: verify.firstSeq,
      last_seq: verify.lastSeq,
      checkpoints: verify.checkpoints,
      problems: verify.problems,
    },
  }
}
export type ComplianceReport = Awaited<ReturnType<typeof buildReport>>

// ---- HTML ------------------------------------------------------------------------------------

const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)
function table(rows: Record<string, unknown>[], columns: string[]) {
  if (!rows.length) return '<p class="none">none</p>'
  const cell = (v: unknown) =>
    esc(Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : v)
  return `<table><thead><tr>${columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${columns.map((c) => `<td>${cell(r[c])}</td>`).join('')}</tr>`).join('')}</tbody></table>`
}

/** A self-contained, printable page (no scripts, no external assets). */
export function reportHtml(r: ComplianceReport): string {
  const keys = r.api_keys as {
    available: boolean
    never_used?: Record<string, unknown>[]
    stale?: Record<string, unknown>[]
    near_expiry?: Record<string, unknown>[]
    expired?: Record<string, unknown>[]
    total?: number
  }
  const keyCols = ['id', 'name', 'owner', 'created_at', 'last_used_at', 'expires_at']
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>portcullis compliance report ${esc(r.generated_at)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2rem;max-width:70rem}table{border-collapse:collapse;margin:.5rem 0 1rem}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f3f3f3}.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}.none{color:#666}</style></head>
<body>
<h1>Compliance report</h1>
<p>${esc(r.issuer)} · generated ${esc(r.generated_at)} · period ${esc(r.period.from)} – ${esc(r.period.to)}</p>
<h2>Audit log</h2>
<p class="${r.audit.ok ? 'ok' : 'bad'}">${r.audit.ok ? 'Chain verified: no tampering found' : 'TAMPERING DETECTED'} · ${esc(r.audit.records)} record(s)${r.audit.first_seq !== null ? `, seq ${esc(r.audit.first_seq)}–${esc(r.audit.last_seq)}` : ''} · ${esc(r.audit.checkpoints.valid)}/${esc(r.audit.checkpoints.total)} valid checkpoint(s)</p>
${r.audit.problems.length ? table(r.audit.problems as unknown as Record<string, unknown>[], ['kind', 'seq', 'message']) : ''}
<h2>Users without MFA</h2>
${r.users.mfa.available ? table(r.users.mfa.without_mfa, ['email', 'id', 'roles', 'last_login_at']) : `<p class="none">MFA status unknown for ${esc(r.users.mfa.unknown)} user(s): multi-factor authentication is not available on this server.</p>`}
<h2>Administrators</h2>
${table(r.administrators.users, ['email', 'roles', 'disabled', 'last_login_at', 'mfa'])}
<h3>Clients that can obtain management scopes</h3>
${table(r.administrators.clients, ['client_id', 'scopes'])}
<h3>API keys carrying management scopes</h3>
${r.administrators.api_keys ? table(r.administrators.api_keys, ['id', 'name', 'owner', 'scopes', 'expires_at']) : '<p class="none">API keys are not available on this server.</p>'}
<h2>API keys</h2>
${keys.available ? `<p>${esc(keys.total)} active key(s)</p><h3>Never used</h3>${table(keys.never_used ?? [], keyCols)}<h3>Stale (unused for 90 days)</h3>${table(keys.stale ?? [], keyCols)}<h3>Near expiry</h3>${table(keys.near_expiry ?? [], keyCols)}<h3>Expired, not revoked</h3>${table(keys.expired ?? [], keyCols)}` : '<p class="none">API keys are not available on this server.</p>'}
<h2>Clients with weak settings</h2>
${table(r.clients.findings, ['client_id', 'severity', 'issue', 'detail'])}
<h2>Token lifetimes</h2>
<p>access ${esc(r.tokens.access_token_ttl)} s · ID ${esc(r.tokens.id_token_ttl)} s · refresh ${esc(r.tokens.refresh_token_ttl)} s</p>
${r.tokens.long_lived_access_tokens.length ? `<h3>Long-lived access tokens</h3>${table(r.tokens.long_lived_access_tokens, ['resource', 'ttl'])}` : ''}
<h2>Signing keys</h2>
<p class="${r.signing_keys.rotation_due ? 'bad' : 'ok'}">oldest active key: ${esc(r.signing_keys.oldest_active_age_days)} day(s)${r.signing_keys.rotation_due ? ' — rotation due' : ''}</p>
${table(r.signing_keys.keys, ['kid', 'alg', 'status', 'created_at', 'age_days'])}
<h2>Policy changes in the period</h2>
${table(r.policy_changes.changes as unknown as Record<string, unknown>[], ['time', 'store', 'version', 'author', 'reason'])}
<h2>Access reviews completed in the period</h2>
${table(r.access_reviews.completed as unknown as Record<string, unknown>[], ['completed_at', 'name', 'completed_by', 'confirmed', 'revoked'])}
<h2>Security alerts in the period</h2>
${table(
  Object.entries(r.alerts).map(([kind, count]) => ({ kind, count })),
  ['kind', 'count'],
)}
</body></html>
`
}

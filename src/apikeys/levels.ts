import { AppError } from '../errors.ts'

/**
 * Security levels and the rules each one enforces (README "API keys" documents them):
 *
 * | level    | max lifetime | IP allowlist | signed requests | admin scopes        |
 * |----------|--------------|--------------|-----------------|---------------------|
 * | LOW      | 365 days     | optional     | optional        | allowed             |
 * | MEDIUM   | 180 days     | optional     | optional        | allowed             |
 * | HIGH     | 90 days      | required     | optional        | allowed             |
 * | CRITICAL | 30 days      | required     | required        | need admin approval |
 *
 * A level can be raised in place (when the key already meets the new rules) but only lowered
 * by issuing a new key: lowering in place would silently weaken a credential someone chose to
 * protect, and the new key makes the change visible (new id, new audit trail).
 */
export const LEVELS = ['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'] as const
export type Level = (typeof LEVELS)[number]

export interface LevelRule {
  maxLifetimeDays: number
  requiresAllowlist: boolean
  requiresSignature: boolean
  adminScopesNeedApproval: boolean
}

export const LEVEL_RULES: Record<Level, LevelRule> = {
  LOW: { maxLifetimeDays: 365, requiresAllowlist: false, requiresSignature: false, adminScopesNeedApproval: false },
  MEDIUM: { maxLifetimeDays: 180, requiresAllowlist: false, requiresSignature: false, adminScopesNeedApproval: false },
  HIGH: { maxLifetimeDays: 90, requiresAllowlist: true, requiresSignature: false, adminScopesNeedApproval: false },
  CRITICAL: { maxLifetimeDays: 30, requiresAllowlist: true, requiresSignature: true, adminScopesNeedApproval: true },
}

export const levelRank = (l: Level) => LEVELS.indexOf(l)
const DAY = 86_400_000

/** `admin` and every `<area>:admin` scope (apikeys:admin, authz:admin, ...). */
export const isAdminScope = (s: string) => s === 'admin' || s.endsWith(':admin')

export interface LevelSubject {
  level: Level
  /** when the lifetime started (creation, or now for a new key) */
  from: Date
  expiresAt: Date
  allowedIps: readonly string[]
  signingAlg: string | null
}

/** A rule a key breaks, as data: pages tie it to a form field and word it in their language. */
export type KeyRuleViolation =
  | { rule: 'expiry_past' }
  | { rule: 'max_lifetime'; level: Level; maxDays: number }
  | { rule: 'allowlist_required'; level: Level }
  | { rule: 'signature_required'; level: Level }
  /** `allowed_ips` entries that are not an address or CIDR range (one message per entry) */
  | { rule: 'invalid_allowlist'; problems: string[] }

/** The English message of a violation, as the key API has always worded it. */
export function violationMessage(v: KeyRuleViolation): string {
  switch (v.rule) {
    case 'expiry_past':
      return 'expiry must be in the future'
    case 'max_lifetime':
      return `a ${v.level} key lives at most ${v.maxDays} days`
    case 'allowlist_required':
      return `a ${v.level} key needs an IP allowlist (allowed_ips)`
    case 'signature_required':
      return `a ${v.level} key needs signed requests (signing)`
    case 'invalid_allowlist':
      return `allowed_ips: ${v.problems.join('; ')}`
  }
}

/**
 * A key refused for breaking its rules: the JSON error keeps its code, message and `details`
 * (the messages); `violations` carries the same as data for callers that show them by field.
 */
export class KeyRulesError extends AppError {
  readonly violations: KeyRuleViolation[]
  constructor(violations: KeyRuleViolation[], opts: { details?: unknown } = {}) {
    super('invalid_request', violations.map(violationMessage).join('; '), { status: 400, ...opts })
    this.violations = violations
  }
}

/** Every rule of the level the key breaks (empty = compliant). */
export function levelViolations(k: LevelSubject): KeyRuleViolation[] {
  const rule = LEVEL_RULES[k.level]
  const out: KeyRuleViolation[] = []
  if (k.expiresAt.getTime() <= k.from.getTime()) out.push({ rule: 'expiry_past' })
  if (k.expiresAt.getTime() - k.from.getTime() > rule.maxLifetimeDays * DAY) {
    out.push({ rule: 'max_lifetime', level: k.level, maxDays: rule.maxLifetimeDays })
  }
  if (rule.requiresAllowlist && !k.allowedIps.length) out.push({ rule: 'allowlist_required', level: k.level })
  if (rule.requiresSignature && !k.signingAlg) out.push({ rule: 'signature_required', level: k.level })
  return out
}

/** Every rule of the level the key breaks, as messages (empty = compliant). */
export const levelProblems = (k: LevelSubject): string[] => levelViolations(k).map(violationMessage)

/** Whether the key needs an administrator's approval before it works. */
export const needsApproval = (level: Level, scopes: readonly string[]) =>
  LEVEL_RULES[level].adminScopesNeedApproval && scopes.some(isAdminScope)

export const maxLifetimeMs = (level: Level) => LEVEL_RULES[level].maxLifetimeDays * DAY

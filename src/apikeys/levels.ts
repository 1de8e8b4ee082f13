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

/** Every rule of the level the key breaks, as messages (empty = compliant). */
export function levelProblems(k: LevelSubject): string[] {
  const rule = LEVEL_RULES[k.level]
  const problems: string[] = []
  if (k.expiresAt.getTime() <= k.from.getTime()) problems.push('expiry must be in the future')
  if (k.expiresAt.getTime() - k.from.getTime() > rule.maxLifetimeDays * DAY) {
    problems.push(`a ${k.level} key lives at most ${rule.maxLifetimeDays} days`)
  }
  if (rule.requiresAllowlist && !k.allowedIps.length)
    problems.push(`a ${k.level} key needs an IP allowlist (allowed_ips)`)
  if (rule.requiresSignature && !k.signingAlg) problems.push(`a ${k.level} key needs signed requests (signing)`)
  return problems
}

/** Whether the key needs an administrator's approval before it works. */
export const needsApproval = (level: Level, scopes: readonly string[]) =>
  LEVEL_RULES[level].adminScopesNeedApproval && scopes.some(isAdminScope)

export const maxLifetimeMs = (level: Level) => LEVEL_RULES[level].maxLifetimeDays * DAY

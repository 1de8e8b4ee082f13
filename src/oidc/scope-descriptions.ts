import { currentLocale, hasKey, t } from '../views/i18n.ts'
import type { ResourceRow } from './queries/resources.ts'

/**
 * The human description of a scope for the consent page (issue 14 §7), in the request's
 * language: a resource's own scope names its description in the import document
 * (`descriptions.<lang>`, then `description`); the standard OpenID scopes (OIDC Core §5.4,
 * §11) and portcullis's API scopes have theirs in the catalogues (`scope.<name>`). Undefined:
 * nothing is known, the page shows the id.
 */
export function scopeDescriber(resources: () => Promise<Pick<ResourceRow, 'indicator' | 'scopeDetails'>[]>) {
  return async function describer() {
    const byResource = new Map((await resources()).map((r) => [r.indicator, r.scopeDetails]))
    const locale = currentLocale()
    return (scope: string, indicator?: string): string | undefined => {
      const d = indicator ? byResource.get(indicator)?.[scope] : undefined
      const own = d?.descriptions?.[locale] ?? d?.descriptions?.[locale.split('-')[0]!] ?? d?.description
      if (own) return own
      return hasKey(`scope.${scope}`) ? t(`scope.${scope}`) : undefined
    }
  }
}
export type ScopeDescriber = ReturnType<typeof scopeDescriber>

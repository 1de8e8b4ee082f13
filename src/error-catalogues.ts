import { COMMON_ERRORS, type ErrorCode, type ErrorSpec } from './errors.ts'
import { HTTP_ERRORS } from './http/errors.ts'
import { ADMIN_ERRORS } from './admin/errors.ts'
import { APIKEYS_ERRORS } from './apikeys/errors.ts'
import { AUDIT_ERRORS } from './audit/errors.ts'
import { AUTHZ_ERRORS } from './authz/errors.ts'
import { DB_ERRORS } from './db/errors.ts'
import { DECLARATIVE_ERRORS } from './declarative/errors.ts'
import { FEDERATION_ERRORS } from './federation/errors.ts'
import { IDENTITY_ERRORS } from './identity/errors.ts'
import { OIDC_ERRORS } from './oidc/errors.ts'
import { SSF_ERRORS } from './ssf/errors.ts'

/**
 * Every error-code catalogue at run time, by feature: for the "Error codes" table of docs/api.md
 * (test/platform/error-codes.test.ts) and anything else that lists codes. The type `ErrorCode`
 * (src/errors.ts) is built from the same catalogues; the check below fails to compile when the
 * two lists differ.
 */
export const ERROR_CATALOGUES = {
  common: COMMON_ERRORS,
  http: HTTP_ERRORS,
  admin: ADMIN_ERRORS,
  apikeys: APIKEYS_ERRORS,
  audit: AUDIT_ERRORS,
  authz: AUTHZ_ERRORS,
  db: DB_ERRORS,
  declarative: DECLARATIVE_ERRORS,
  federation: FEDERATION_ERRORS,
  identity: IDENTITY_ERRORS,
  oidc: OIDC_ERRORS,
  ssf: SSF_ERRORS,
} as const

type Listed = {
  [F in keyof typeof ERROR_CATALOGUES]: keyof (typeof ERROR_CATALOGUES)[F]
}[keyof typeof ERROR_CATALOGUES]
// Both directions: a catalogue in ErrorCode but not listed here, or listed here but not in ErrorCode.
const _sameCodes: [ErrorCode, Listed] extends [Listed, ErrorCode] ? true : never = true
void _sameCodes

/** [feature, code, spec] for every code, in catalogue order. */
export const allErrorCodes = (): [feature: string, code: string, spec: ErrorSpec][] =>
  Object.entries(ERROR_CATALOGUES).flatMap(([feature, catalogue]) =>
    Object.entries(catalogue as Record<string, ErrorSpec>).map(
      ([code, spec]) => [feature, code, spec] as [string, string, ErrorSpec],
    ),
  )

/** The "Error codes" table of docs/api.md, generated from the catalogues (one row per code). */
export function errorCodesTable(): string {
  const rows = allErrorCodes().map(([feature, code, spec]) => {
    const status = spec.also?.length ? `${spec.status} (also ${spec.also.join(', ')})` : String(spec.status)
    const shown = (spec.expose ?? spec.status < 500) ? 'yes' : 'no'
    return `| \`${code}\` | ${status} | ${shown} | ${feature} | ${spec.meaning.replace(/\|/g, '\\|')} |`
  })
  return ['| code | status | message shown | feature | meaning |', '|---|---|---|---|---|', ...rows].join('\n')
}

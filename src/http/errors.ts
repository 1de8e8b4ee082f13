import type { ErrorCatalogue } from '../errors.ts'

/** The HTTP toolkit's error codes: caller authentication, request bodies and edge rules. */
export const HTTP_ERRORS = {
  invalid_token: { status: 401, meaning: 'the bearer access token or API key is invalid, expired or revoked' },
  insufficient_scope: { status: 403, meaning: 'the token or key lacks the scope this call needs (RFC 6750 §3.1)' },
  ip_not_allowed: { status: 403, meaning: 'the caller’s address is not on the allowlist (management API, API key)' },
  payload_too_large: { status: 413, meaning: 'the request body is larger than the limit' },
  unsupported_media_type: { status: 415, meaning: 'the request body has the wrong content type' },
  invalid_json: { status: 400, meaning: 'the request body is not valid JSON or nests too deep' },
  cross_site_request: { status: 403, meaning: 'a state-changing request from another site was refused' },
} as const satisfies ErrorCatalogue

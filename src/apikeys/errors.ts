import type { ErrorCatalogue } from '../errors.ts'

/** API keys: issuing, lifecycle and request signatures (RFC 9421). */
export const APIKEYS_ERRORS = {
  scope_not_allowed: { status: 403, meaning: 'a key may not hold more scopes than its owner (or the issuing key)' },
  level_not_allowed: { status: 403, meaning: 'the caller may not issue or set this assurance level' },
  level_lowering: { status: 409, meaning: 'a key’s assurance level is never lowered' },
  key_revoked: { status: 409, meaning: 'the key is revoked' },
  key_expired: { status: 409, meaning: 'the key has expired' },
  already_rotated: { status: 409, meaning: 'the key was already rotated' },
  approval_not_needed: { status: 409, meaning: 'the key is not waiting for approval' },
  signature_required: { status: 401, meaning: 'this key must sign its requests (RFC 9421)' },
  signature_malformed: { status: 401, meaning: 'Signature or Signature-Input cannot be parsed' },
  signature_component_missing: { status: 401, meaning: 'the signature does not cover a required component' },
  signature_stale: { status: 401, meaning: 'the signature is too old or has expired' },
  digest_mismatch: { status: 401, meaning: 'Content-Digest does not match the body (RFC 9530)' },
  signature_invalid: { status: 401, meaning: 'the request signature does not verify' },
  signature_replayed: { status: 401, meaning: 'the signature’s nonce was already used' },
} as const satisfies ErrorCatalogue

import type { Configuration } from 'oidc-provider'
import { ENCRYPTION_ALG } from './keys.ts'

/**
 * JWE (RFC 7516) with oidc-provider's `features.encryption`:
 * - RFC 9101 §6.1 encrypted request objects: a client signs its request object, then encrypts it
 *   to our encryption key (the `use: enc` key of the JWKS, keys.ts). The inner object must be
 *   signed like any other (requestObjectSigningAlgValues has no 'none'), so encryption adds
 *   confidentiality, never a way around the signature.
 * - OIDC Core §10.2 encrypted ID tokens: a client that registers `id_token_encrypted_response_alg`
 *   (and a `use: enc` key in its jwks / jwks_uri) gets its ID tokens signed, then encrypted to it.
 * Only key-agreement / key-transport algorithms: the symmetric ones (A*KW, dir) derive the key from
 * the client secret, which we keep only as a hash. Userinfo, introspection and JARM responses stay
 * plain JSON/unencrypted (their JWT features are off), so nothing else is offered.
 */
const CONTENT_ENCRYPTION = ['A128GCM', 'A256GCM', 'A128CBC-HS256', 'A256CBC-HS512'] as const
const TO_CLIENT_KEYS = ['RSA-OAEP-256', 'ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A256KW'] as const

export const encryptionJwa = {
  // oidc-provider narrows these to the algorithms of our own `use: enc` keys
  requestObjectEncryptionAlgValues: [ENCRYPTION_ALG],
  requestObjectEncryptionEncValues: [...CONTENT_ENCRYPTION],
  idTokenEncryptionAlgValues: [...TO_CLIENT_KEYS],
  idTokenEncryptionEncValues: [...CONTENT_ENCRYPTION],
  userinfoEncryptionAlgValues: [...TO_CLIENT_KEYS],
  userinfoEncryptionEncValues: [...CONTENT_ENCRYPTION],
  introspectionEncryptionAlgValues: [...TO_CLIENT_KEYS],
  introspectionEncryptionEncValues: [...CONTENT_ENCRYPTION],
  authorizationEncryptionAlgValues: [...TO_CLIENT_KEYS],
  authorizationEncryptionEncValues: [...CONTENT_ENCRYPTION],
} satisfies NonNullable<Configuration['enabledJWA']>

export const encryptionFeature = { encryption: { enabled: true } } satisfies Configuration['features']

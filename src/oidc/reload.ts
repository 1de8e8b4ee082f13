import type { JWK } from 'jose'
import { deriveKey, type Keyring } from '../crypto/envelope.ts'
import type { Logger } from '../logger.ts'
import type { ApiTokenVerifier } from './api-tokens.ts'
import type { KeyStore } from './keys.ts'
import type { OidcProvider } from './provider.ts'
import type { ResourceQueries } from './queries/resources.ts'

/**
 * The provider instance and when to rebuild it. It is built from configuration plus two things
 * that change at run time on any instance: the published signing keys (rotation) and the scopes
 * of registered resources. `build` is buildProvider with everything else already bound.
 */
export function providerReloader(deps: {
  keys: Pick<KeyStore, 'ensure' | 'fingerprint' | 'publicJwks' | 'privateJwks' | 'retireDue'>
  resources: Pick<ResourceQueries, 'list'>
  apiTokens: Pick<ApiTokenVerifier, 'setKeys'>
  logger: Logger
  build: (input: { jwks: { keys: JWK[] }; resourceScopes: string[] }) => OidcProvider
}) {
  const { keys, logger } = deps
  let provider: OidcProvider | undefined
  let providerFingerprint = ''
  let resourceScopes: string[] = []
  // What the provider is built from besides configuration; when it changes the provider is rebuilt.
  async function fingerprint() {
    const scopes = [...new Set((await deps.resources.list()).flatMap((r) => r.scopes))].sort()
    return { value: `${await keys.fingerprint()}|${scopes.join(' ')}`, scopes }
  }
  async function loadProvider() {
    await keys.ensure()
    const fp = await fingerprint()
    providerFingerprint = fp.value
    resourceScopes = fp.scopes
    deps.apiTokens.setKeys(await keys.publicJwks())
    provider = deps.build({ jwks: await keys.privateJwks(), resourceScopes })
    return provider
  }
  const current = () => {
    if (!provider) throw new Error('provider not loaded: call container.loadProvider() first')
    return provider
  }
  /**
   * Rebuilds the provider when the published keys (rotation on any instance) or the resource
   * scopes changed. Servers call it every KEYS_REFRESH_INTERVAL and on a configuration notice;
   * writers call it right away.
   */
  async function refresh() {
    await keys.retireDue()
    if ((await fingerprint()).value !== providerFingerprint) {
      await loadProvider()
      logger.info('signing keys or resources changed; provider reloaded')
      return true
    }
    return false
  }
  return { current, loadProvider, refresh, resourceScopes: () => resourceScopes }
}

/** Cookie signing keys derived from the master keys (current first), so they survive restarts. */
export function cookieKeys(ring: Keyring): string[] {
  const ids = [ring.currentId, ...[...ring.keys.keys()].filter((k) => k !== ring.currentId)]
  return ids.map((id) => deriveKey(ring.keys.get(id)!, 'cookies').toString('base64url'))
}

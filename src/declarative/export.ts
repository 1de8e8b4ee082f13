import YAML from 'yaml'
import { exportApiKeys, type ApiKeysDeclarativeDeps } from '../apikeys/declarative.ts'
import type { PolicyStores } from '../authz/stores.ts'
import type { FederationService } from '../federation/service.ts'
import type { UserService } from '../identity/users.ts'
import type { ClientService } from '../oidc/clients.ts'
import type { ResourceQueries } from '../oidc/queries/resources.ts'
import { SYSTEM_STORE } from '../admin/authority.ts'

/** What the export reads of the running server (the container has this shape). */
export type ExportDeps = ApiKeysDeclarativeDeps & {
  clients: Pick<ClientService, 'list'>
  users: Pick<UserService, 'list'>
  resources: Pick<ResourceQueries, 'list'>
  authz: { stores: Pick<PolicyStores, 'list' | 'current' | 'exportCsv'> }
  federation: Pick<FederationService, 'exportProviders'>
}

/** The import document of the current state, without secrets (no client secrets, no password hashes). */
export async function exportDocument(c: ExportDeps) {
  const [clients, users, resources] = await Promise.all([c.clients.list(), c.users.list(), c.resources.list()])
  const apiKeys = await exportApiKeys(c)
  const identityProviders = await c.federation.exportProviders()
  return {
    clients: clients.map((cl) => ({ client_id: cl.clientId, ...cl.metadata })),
    users: users.map((u) => ({
      email: u.email,
      ...(u.name ? { name: u.name } : {}),
      roles: u.roles,
      attributes: u.attributes,
      email_verified: u.emailVerified,
      ...(u.disabled ? { disabled: true } : {}),
    })),
    // A scope with a description or roles is written as an object, as the import takes it.
    resources: resources.map((r) => ({
      indicator: r.indicator,
      scopes: r.scopes.map((name) => {
        const d = r.scopeDetails[name]
        return d
          ? {
              name,
              ...(d.description !== undefined ? { description: d.description } : {}),
              ...(d.descriptions ? { descriptions: d.descriptions } : {}),
              roles: d.roles,
            }
          : name
      }),
      access_token_format: r.accessTokenFormat,
      access_token_ttl: r.accessTokenTtl,
      access_token_signing_alg: r.accessTokenSigningAlg,
    })),
    // the built-in `system` store (admin grants by user id) is not configuration: it is not exported
    policy_stores: await Promise.all(
      (await c.authz.stores.list())
        .filter((s) => s.name !== SYSTEM_STORE)
        .map(async (s) => {
          const snap = await c.authz.stores.current(s.name)
          return {
            name: s.name,
            ...(s.description ? { description: s.description } : {}),
            model: snap.model,
            policy: await c.authz.stores.exportCsv(s.name, snap.version),
            ...(Object.keys(snap.options).length ? { options: snap.options } : {}),
          }
        }),
    ),
    // Live API keys without secrets (omitted when there are none).
    ...(apiKeys.length ? { api_keys: apiKeys } : {}),
    // Upstream identity providers without their client secret or private key (omitted when none).
    ...(identityProviders.length ? { identity_providers: identityProviders } : {}),
  }
}

export function formatDocument(doc: unknown, format: 'json' | 'yaml') {
  return format === 'json' ? JSON.stringify(doc, null, 2) + '\n' : YAML.stringify(doc)
}

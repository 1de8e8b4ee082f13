import type { PolicyStores } from '../authz/stores.ts'
import { SYSTEM_STORE, systemStoreGuard } from './authority.ts'

/**
 * What the admin capability adds to the start sequence: the rules of the built-in `system`
 * policy store (its admin roles), given to the policy stores (authz/module.ts), and the
 * question the provider asks of it for the console's token (oidc/module.ts). The admin API,
 * console and commands are mounted by app.ts and main.ts.
 */
export function adminModule() {
  return {
    /** the built-in store of admin roles can never lose its last administrator (admin/authority.ts) */
    builtinStores: {
      guards: { [SYSTEM_STORE]: systemStoreGuard },
      reserved: {
        [SYSTEM_STORE]:
          'the system store holds the admin roles: grant and revoke them with portcullis admin grant-role|revoke-role (or the admin services)',
      },
    },
    /** Whether a user holds some admin role in the `system` store. */
    holdsAdminRole:
      (stores: Pick<PolicyStores, 'current'>) =>
      async (userId: string): Promise<boolean> => {
        try {
          return (await stores.current(SYSTEM_STORE)).lines.some((l) => l[0] === 'g' && l[1] === `user:${userId}`)
        } catch (err) {
          if ((err as { code?: string }).code === 'not_found') return false
          throw err
        }
      },
  }
}

import type { Config } from '../config/env.ts'
import { AppError } from '../errors.ts'
import { adminCommand as identityAdminCommand, type IdentityCliDeps } from '../identity/cli.ts'
import { ADMIN_ROLES } from './authority.ts'
import { adminServices, ensureSystemPolicyStore, type AdminServiceDeps, type SystemStoreDeps } from './service.ts'

export interface AdminCliOptions {
  role?: string[]
  invite?: boolean
  scope?: string[]
  'redirect-uri'?: string[]
}

/** What `portcullis admin ...` needs of the running server (the container has this shape). */
export type AdminCliDeps = AdminServiceDeps &
  SystemStoreDeps &
  IdentityCliDeps & {
    config: Pick<Config, 'DYNAMIC_REGISTRATION'>
    /** RFC 7591 §3 initial access tokens (audited) */
    createInitialAccessToken(actor: string): Promise<{ token: string; expiresAt: Date }>
  }

const CLI = { kind: 'cli' } as const
const usage = (message: string) => new AppError('usage', message, { status: 400 })
const out = (text: string) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)

/**
 * `portcullis admin ...`: break-glass administration on the host (issue 12 §4). The operator
 * with the database and the master key is the authority here (`cli` caller); every action goes
 * through the same admin services, and audit records, as the admin API. Secrets (passwords,
 * client secrets, invitation links) are printed once to stdout and never logged.
 */
export async function adminCommand(c: AdminCliDeps, args: string[], opts: AdminCliOptions): Promise<number> {
  const [sub, arg, arg2] = args
  // the system store exists from the first server start; a CLI run before that creates it too
  await ensureSystemPolicyStore(c)
  const admin = adminServices(c)
  switch (sub) {
    case 'create-user': {
      if (!arg) throw usage('admin create-user needs an EMAIL')
      const r = await admin.users.create(CLI, {
        email: arg,
        roles: opts.role ?? [],
        ...(opts.invite ? { invite: true } : {}),
      })
      out(`created ${r.user.email} (id ${r.user.id})`)
      if (r.invitation)
        out(
          `invitation link (single use, expires ${r.invitation.expiresAt.toISOString()}; shown once):\n  ${r.invitation.url}`,
        )
      if (r.password) out(`one-time password (shown once; it must be changed at first sign-in):\n  ${r.password}`)
      return 0
    }
    case 'reset-mfa': {
      if (!arg) throw usage('admin reset-mfa needs an EMAIL')
      const r = await admin.users.resetMfa(CLI, arg)
      out(`removed ${r.factorsRemoved} second factor(s) and the recovery codes of ${arg.trim().toLowerCase()}`)
      return 0
    }
    case 'reset-password': {
      if (!arg) throw usage('admin reset-password needs an EMAIL')
      const r = await admin.users.resetPassword(CLI, arg)
      out(
        `${arg.trim().toLowerCase()}: ${r.sessionsEnded} session(s) ended; temporary password (shown once; it must be changed at next sign-in):\n  ${r.password}`,
      )
      return 0
    }
    case 'create-client': {
      if (!arg) throw usage('admin create-client needs an ID')
      const redirects = opts['redirect-uri'] ?? []
      const metadata = {
        ...(redirects.length
          ? { redirect_uris: redirects, grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }
          : { grant_types: ['client_credentials'], response_types: [] }),
        ...(opts.scope?.length ? { scope: opts.scope.join(' ') } : {}),
      }
      const r = await admin.clients.create(CLI, { clientId: arg, metadata })
      out(`created client ${arg} (${metadata.grant_types.join(', ')})`)
      if (r.secret) out(`client secret (shown once; only its hash is kept):\n  ${r.secret}`)
      return 0
    }
    case 'grant-role':
    case 'revoke-role': {
      if (!arg || !arg2)
        throw usage(`admin ${sub} needs an EMAIL (or client:ID) and a ROLE (${ADMIN_ROLES.join(', ')})`)
      const owner = arg.startsWith('client:')
        ? { type: 'client' as const, id: (await admin.clients.find(arg.slice(7))).clientId }
        : { type: 'user' as const, id: (await admin.users.find(arg)).id }
      if (
        sub === 'grant-role' &&
        arg2 === 'admin' &&
        owner.type === 'user' &&
        (await ensureSystemPolicyStore(c, await admin.users.find(arg)))
      ) {
        out(`created the system policy store with admin granted to ${arg}`)
        return 0
      }
      const r =
        sub === 'grant-role'
          ? await admin.authority.grant(CLI, owner, arg2)
          : await admin.authority.revoke(CLI, owner, arg2)
      out(
        r.changed
          ? `${sub === 'grant-role' ? 'granted' : 'revoked'} ${arg2} ${sub === 'grant-role' ? 'to' : 'from'} ${arg}`
          : `${arg} ${sub === 'grant-role' ? 'already holds' : 'does not hold'} ${arg2}`,
      )
      return 0
    }
    case 'create-iat': {
      // RFC 7591 §3: handed to a developer out of band; only meaningful with DYNAMIC_REGISTRATION=initial-access-token
      if (c.config.DYNAMIC_REGISTRATION !== 'initial-access-token')
        throw usage('admin create-iat needs DYNAMIC_REGISTRATION=initial-access-token')
      const r = await c.createInitialAccessToken('cli')
      out(`initial access token (expires ${r.expiresAt.toISOString()}; shown once):\n  ${r.token}`)
      return 0
    }
    case 'rotate-keys': {
      // the same service as POST /admin/v1/signing-keys/rotate: audited, every instance reloads
      const r = await admin.keys.rotate(CLI)
      out(
        `new signing keys: ${r.added.map((k) => `${k.alg} ${k.kid}`).join(', ')}\nprevious keys stay published until the tokens they signed expire; ${r.retired} key(s) retired now`,
      )
      return 0
    }
    case 'disable':
    case 'enable': {
      // through the admin service, so the last enabled administrator cannot be disabled
      if (!arg) throw usage(`admin ${sub} needs an EMAIL`)
      const r = await admin.users.setStatus(CLI, arg, sub === 'disable')
      out(
        !r.changed
          ? `${r.user.email} is already ${sub}d`
          : sub === 'disable'
            ? `disabled ${r.user.email}: ${r.sessionsEnded} session(s) ended; it cannot sign in and its API keys stop working`
            : `enabled ${r.user.email}: it can sign in again and its API keys work again`,
      )
      return 0
    }
    default:
      // unlock, require-mfa (identity/cli.ts)
      return identityAdminCommand(c, args)
  }
}

import { z } from 'zod'
import type { AdminDeps } from './deps.ts'
import { callerLabel, type AdminAuthority, type AdminCaller } from './authority.ts'
import type { AdminElevation } from './elevation.ts'
import { adminError } from './errors.ts'
import type { AdminQueries } from './queries.ts'
import type { AccessQueries } from './queries/access.ts'
import { parse } from './shared.ts'

/**
 * An extra sign-out notifier for containment (e.g. a Shared Signals transmitter, when one exists).
 * Back-channel logout itself (OpenID Connect Back-Channel Logout 1.0) needs no hook: ending the
 * user's sessions sends a logout token to every client that took part in one of them.
 * Returns how many receivers were notified.
 */
export type SignOutNotifier = (e: { accountId?: string; clientId?: string; reason: string }) => Promise<number>

export const containInput = z
  .object({
    reason: z
      .string()
      .trim()
      .min(3)
      .max(500)
      .regex(/^[^\0]*$/, 'no NUL characters'),
  })
  .strict()

type ContainmentDeps = {
  authority: AdminAuthority
  q: AdminQueries
  access: AccessQueries
  elevation: AdminElevation
  notifySignOut?: SignOutNotifier
}

/** Revokes every live API key of the owner; returns their ids. */
async function revokeOwnerKeys(c: AdminDeps, caller: AdminCaller, owner: { type: 'user' | 'client'; id: string }) {
  const keys = (await c.apikeys.list(owner)).filter((k) => !k.revokedAt)
  for (const k of keys) await c.apikeys.revoke(k.id, { label: callerLabel(caller), isAdmin: true })
  return keys.map((k) => k.id)
}

/** Runs the extra sign-out notifier, if any: null without one, 0 when it failed (containment goes on). */
async function notifySignOut(c: AdminDeps, notifier: SignOutNotifier | undefined, e: Parameters<SignOutNotifier>[0]) {
  if (!notifier) return null
  try {
    return await notifier(e)
  } catch (err) {
    c.logger.warn({ err: (err as Error).message }, 'back-channel logout notification failed during containment')
    return 0
  }
}

/**
 * Containment in one action (issue 12 §6): for a user or client suspected compromised, every
 * session, OIDC grant and the tokens issued under them, and every API key go, time-bound admin
 * roles end, and the account is disabled — then one audit event says who did it and why.
 * Standing admin role grants stay in the system store (a disabled user holds nothing; enabling
 * the account after the investigation restores them). JWT access tokens already issued are
 * self-contained: a resource server that verifies offline accepts them until they expire
 * (ACCESS_TOKEN_TTL); portcullis's own APIs refuse them at once (the owner is disabled).
 */
export function adminContainment(c: AdminDeps, deps: ContainmentDeps) {
  const { authority, q, access } = deps
  const revokeKeys = (caller: AdminCaller, owner: { type: 'user' | 'client'; id: string }) =>
    revokeOwnerKeys(c, caller, owner)
  const notify = (e: Parameters<SignOutNotifier>[0]) => notifySignOut(c, deps.notifySignOut, e)

  return {
    async user(caller: AdminCaller, ref: string, input: unknown) {
      await authority.require(caller, 'users:write')
      await authority.require(caller, 'users:sessions')
      const { reason } = parse(containInput, input)
      const u = (await c.users.findById(ref)) ?? (await c.users.findByEmail(ref.trim().toLowerCase()))
      if (!u) throw adminError('not_found', `no user ${ref}`)
      await authority.keepsAnAdmin([u.id])
      const label = callerLabel(caller)
      // Back-channel logout: every client that took part in one of these sessions and registered
      // a backchannel_logout_uri is sent a logout token before the session ends.
      const { sessionsEnded, receiversNotified: loggedOut } = await c.login.sessions.signOutEverywhere(u.id)
      const apiKeysRevoked = await revokeKeys(caller, { type: 'user', id: u.id })
      const grantsRevoked = await access.removeAccountOidc(u.id, await q.grantIds({ accountId: u.id }))
      const elevations = (await deps.elevation.active()).filter((r) => r.subject === `user:${u.id}`)
      for (const r of elevations)
        await access.decide(r.id, 'approved', {
          status: 'revoked',
          decidedBy: label,
          decidedAt: new Date(),
          decisionNote: `contained: ${reason}`,
          expiresAt: new Date(),
        })
      // the account-disabled SET (ssf/) carries RISC reason `hijacking` (RISC 1.0 §2.4)
      const disabled = u.disabled ? { changed: false } : await c.accounts.disable(u.email, label, 'hijacking')
      await c.apikeys.ownersChanged()
      const receiversNotified = loggedOut + ((await notify({ accountId: u.id, reason })) ?? 0)
      const result = {
        sessionsEnded,
        apiKeysRevoked,
        grantsRevoked,
        elevationsEnded: elevations.map((r) => r.id),
        disabled: true,
        wasDisabled: !disabled.changed,
        receiversNotified,
      }
      await c.audit.record({
        action: 'user.contained',
        outcome: 'success',
        actor: label,
        target: u.id,
        details: {
          reason,
          before: { disabled: u.disabled },
          after: { disabled: true },
          sessions_ended: sessionsEnded,
          api_keys_revoked: apiKeysRevoked,
          grants_revoked: grantsRevoked,
          elevations_ended: result.elevationsEnded,
          receivers_notified: receiversNotified,
        },
      })
      return result
    },

    async client(caller: AdminCaller, clientId: string, input: unknown) {
      await authority.require(caller, 'clients:write')
      const { reason } = parse(containInput, input)
      const r = await c.clients.find(clientId)
      if (!r) throw adminError('not_found', `no client ${clientId}`)
      const label = callerLabel(caller)
      const wasDisabled = Boolean(r.disabledAt)
      await c.queries.clients.setDisabled(clientId, new Date())
      const apiKeysRevoked = await revokeKeys(caller, { type: 'client', id: clientId })
      const grants = await q.grantIds({ clientId })
      await q.deleteClientTokens(clientId, grants)
      await c.configChanged()
      const receiversNotified = await notify({ clientId, reason })
      await c.audit.record({
        action: 'client.contained',
        outcome: 'success',
        actor: label,
        target: `client:${clientId}`,
        details: {
          reason,
          before: { disabled: wasDisabled },
          after: { disabled: true },
          api_keys_revoked: apiKeysRevoked,
          grants_revoked: grants.length,
          receivers_notified: receiversNotified,
        },
      })
      return { apiKeysRevoked, grantsRevoked: grants.length, disabled: true, wasDisabled, receiversNotified }
    },

    /** Lets a contained client authenticate again (its secret should be rotated too). */
    async enableClient(caller: AdminCaller, clientId: string, input: unknown) {
      await authority.require(caller, 'clients:write')
      const { reason } = parse(containInput, input)
      const r = await c.clients.find(clientId)
      if (!r) throw adminError('not_found', `no client ${clientId}`)
      if (!r.disabledAt) return { disabled: false, changed: false }
      await c.queries.clients.setDisabled(
        clientId,
        null,
        c.audit.with(() => ({
          action: 'client.enabled',
          outcome: 'success',
          actor: callerLabel(caller),
          target: `client:${clientId}`,
          details: { reason, before: { disabled: true }, after: { disabled: false } },
        })),
      )
      await c.configChanged()
      return { disabled: false, changed: true }
    },
  }
}
export type AdminContainment = ReturnType<typeof adminContainment>

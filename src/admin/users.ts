import type { AuditAction } from '../audit/actions.ts'
import crypto from 'node:crypto'
import { z } from 'zod'
import type { Container } from '../container.ts'
import { passwordProblems } from '../identity/password-policy.ts'
import { normalizeEmail } from '../identity/users.ts'
import type { UserRecord } from '../identity/queries.ts'
import { callerLabel, type AdminAuthority, type AdminCaller } from './authority.ts'
import { adminError, invalidInput } from './errors.ts'
import type { AdminQueries, UserFilter } from './queries.ts'
import { decodeCursor, encodeCursor, etagOf, parse, PAGE_MAX } from './shared.ts'

/** What an administrator sees of a user: never the password hash. */
export type UserView = Omit<UserRecord, 'passwordHash'> & { hasPassword: boolean; etag: string }

const ROLE = z.string().regex(/^[\w:.-]{1,64}$/, 'a role is 1-64 letters, digits, _ : . -')
const attributes = z.record(z.string().min(1).max(64), z.unknown())
const createInput = z
  .object({
    email: z.email(),
    name: z.string().trim().min(1).max(200).optional(),
    roles: z.array(ROLE).max(50).optional(),
    attributes: attributes.optional(),
    emailVerified: z.boolean().optional(),
    password: z.string().optional(),
    invite: z.boolean().optional(),
  })
  .strict()
  .refine((v) => !(v.password !== undefined && v.invite), {
    message: 'give a password or ask for an invitation, not both',
    path: ['invite'],
  })
const updateInput = z
  .object({
    name: z.string().trim().min(1).max(200).nullable().optional(),
    roles: z.array(ROLE).max(50).optional(),
    attributes: attributes.optional(),
    emailVerified: z.boolean().optional(),
  })
  .strict()
const searchInput = z
  .object({
    email: z.string().max(320).optional(),
    name: z.string().max(200).optional(),
    role: ROLE.optional(),
    attribute: z
      .string()
      .regex(/^[^=]{1,64}=.*$/, 'attribute filters are KEY=VALUE')
      .optional(),
    status: z.enum(['active', 'disabled']).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.number().int().min(1).max(PAGE_MAX).optional(),
  })
  .strict()

export const view = (u: UserRecord): UserView => {
  const { passwordHash, ...rest } = u
  return {
    ...rest,
    hasPassword: Boolean(passwordHash),
    etag: etagOf([
      u.id,
      u.email,
      u.name,
      u.roles,
      u.attributes,
      u.emailVerified,
      u.disabled,
      u.mustChangePassword,
      u.updatedAt.toISOString(),
    ]),
  }
}
export const temporaryPassword = () => crypto.randomBytes(18).toString('base64url')

/** "key=value": value is JSON when it parses (n=3, on=true), else the text. */
function attributeFilter(text: string | undefined): UserFilter['attribute'] {
  if (text === undefined) return undefined
  const i = text.indexOf('=')
  const raw = text.slice(i + 1)
  let value: unknown = raw
  try {
    value = JSON.parse(raw)
  } catch {
    /* plain text */
  }
  return { key: text.slice(0, i), value }
}

/** Users administration (issue 12 §1). Every action checks the caller through the system store. */
export function adminUsers(c: Container, q: AdminQueries, authority: AdminAuthority) {
  /** A change's audit record, committed with it (db/audited.ts). */
  const audited = <T>(
    caller: AdminCaller,
    action: AuditAction,
    of: (result: T) => { target: string; details: Record<string, unknown> },
  ) => c.audit.with((result: T) => ({ action, outcome: 'success', actor: callerLabel(caller), ...of(result) }))

  async function find(ref: string): Promise<UserRecord> {
    const u = ref.includes('@') ? await c.users.findByEmail(ref) : await c.users.findById(ref)
    if (!u) throw adminError('not_found', `no user ${ref.includes('@') ? normalizeEmail(ref) : ref}`)
    return u
  }

  function checkPassword(password: string, email: string, name?: string | null) {
    const problems = passwordProblems(password, {
      minLength: c.config.PASSWORD_MIN_LENGTH,
      email,
      userInputs: name ? [name] : [],
    })
    if (problems.length) throw invalidInput(problems.map((message) => ({ path: ['password'], message })))
  }

  const users = {
    find,
    view,

    /**
     * Creates a user with an initial password (given, or generated and returned once) that must
     * be changed at first sign-in, or with no password and an invitation: the same single-use
     * set-password link (/password/reset, valid 7 days, only its SHA-256 stored) that imported
     * users get (identity/password-reset.ts `invite`), mailed to the user and returned once.
     * Following it sets the password and verifies the address.
     */
    async create(caller: AdminCaller, input: unknown) {
      await authority.require(caller, 'users:write')
      const v = parse(createInput, input)
      const email = normalizeEmail(v.email)
      if (await c.users.findByEmail(email)) throw adminError('user_exists', `a user with the email ${email} exists`)
      if (v.password !== undefined) checkPassword(v.password, email, v.name)
      const password = v.invite ? undefined : (v.password ?? temporaryPassword())
      // the user and its audit record commit together; a lost invitation link can be sent again
      const user = await c.users.create(
        {
          email,
          name: v.name ?? null,
          roles: v.roles ?? [],
          attributes: v.attributes ?? {},
          emailVerified: v.emailVerified ?? false,
          password,
          mustChangePassword: password !== undefined,
        },
        audited(caller, 'user.created', (created) => ({
          target: created.id,
          details: {
            after: {
              email,
              name: created.name,
              roles: created.roles,
              attributes: created.attributes,
              email_verified: created.emailVerified,
            },
            initial: v.invite ? 'invitation' : v.password !== undefined ? 'password' : 'generated_password',
          },
        })),
      )
      const invite = v.invite ? await c.passwordReset.invite(user, { actor: callerLabel(caller) }) : undefined
      return {
        user: view(user),
        ...(v.password === undefined && password ? { password } : {}),
        ...(invite ? { invitation: invite } : {}),
      }
    },

    /** A page of users in creation order; `nextCursor` is absent on the last page. */
    async search(caller: AdminCaller, input: unknown = {}) {
      await authority.require(caller, 'users:read')
      const v = parse(searchInput, input)
      const limit = v.limit ?? 50
      const filter: UserFilter = {
        email: v.email,
        name: v.name,
        role: v.role,
        attribute: attributeFilter(v.attribute),
        status: v.status,
      }
      const rows = await q.searchUsers(filter, decodeCursor(v.cursor), limit + 1)
      const page = rows.slice(0, limit)
      const items = page
        .map((r): UserRecord => ({
          ...r,
          roles: JSON.parse(r.roles) as string[],
          attributes: JSON.parse(r.attributes) as Record<string, unknown>,
        }))
        .filter(
          (u) =>
            (!filter.role || u.roles.includes(filter.role)) &&
            (!filter.attribute ||
              JSON.stringify(u.attributes[filter.attribute.key]) === JSON.stringify(filter.attribute.value)),
        )
      const last = page.at(-1)
      return {
        items: items.map(view),
        ...(rows.length > limit && last
          ? { nextCursor: encodeCursor({ createdAt: last.createdAt, id: last.id }) }
          : {}),
      }
    },

    async read(caller: AdminCaller, ref: string) {
      await authority.require(caller, 'users:read')
      const u = await find(ref)
      return { ...view(u), adminRoles: await authority.rolesOf({ type: 'user', id: u.id }) }
    },

    /**
     * Updates name, roles, attributes, email_verified. With `ifMatch` (the ETag the caller read)
     * the write happens only if nobody changed the user since: else `precondition_failed`.
     */
    async update(caller: AdminCaller, ref: string, input: unknown, ifMatch?: string) {
      await authority.require(caller, 'users:write')
      const v = parse(updateInput, input)
      const u = await find(ref)
      if (ifMatch !== undefined && ifMatch !== view(u).etag)
        throw adminError('precondition_failed', `user ${u.id} changed since ${ifMatch} was read (now ${view(u).etag})`)
      const next = {
        name: v.name !== undefined ? v.name : u.name,
        roles: v.roles ?? u.roles,
        attributes: v.attributes ?? u.attributes,
        emailVerified: v.emailVerified ?? u.emailVerified,
      }
      const changed = (Object.keys(next) as (keyof typeof next)[]).filter(
        (k) => JSON.stringify(next[k]) !== JSON.stringify(u[k]),
      )
      if (!changed.length) return view(u)
      const ok = await q.updateUserIf(
        u.id,
        {
          updatedAt: u.updatedAt,
          roles: JSON.stringify(u.roles),
          attributes: JSON.stringify(u.attributes),
          name: u.name,
          email: u.email,
          emailVerified: u.emailVerified,
          disabled: u.disabled,
        },
        {
          name: next.name,
          roles: JSON.stringify(next.roles),
          attributes: JSON.stringify(next.attributes),
          emailVerified: next.emailVerified,
        },
        c.audit.with((written: boolean) =>
          written
            ? {
                action: 'user.updated',
                outcome: 'success',
                actor: callerLabel(caller),
                target: u.id,
                details: {
                  before: Object.fromEntries(changed.map((k) => [k, u[k]])),
                  after: Object.fromEntries(changed.map((k) => [k, next[k]])),
                },
              }
            : null,
        ),
      )
      if (!ok)
        throw adminError('precondition_failed', `user ${u.id} changed while this update was being made; read it again`)
      // roles decide which scopes API keys and tokens carry: key caches everywhere re-read owners
      if (changed.includes('roles')) await c.apikeys.ownersChanged()
      return view(await find(u.id))
    },
  }
  return users
}
export type AdminUsers = ReturnType<typeof adminUsers>

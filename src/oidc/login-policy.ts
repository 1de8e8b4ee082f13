import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider'
import { ACR_MFA } from '../identity/acr.ts'

// The ACR values are defined once, in identity/acr.ts; re-exported for the provider's imports.
export { ACR_MFA, ACR_PWD } from '../identity/acr.ts'
/** The login check (and prompt reason) of "Sign in as someone else". */
export const ACCOUNT_SWITCH = 'account_switch'
/** The first-party client the account pages sign in through (see README "Account pages"). */
export const ACCOUNT_CLIENT_ID = 'portcullis-account'
/**
 * The admin console's first-party client (admin/console/, docs/administration.md): a public
 * client (authorization code + PKCE, RFC 7636) whose user tokens for our API carry `admin` only
 * when the user holds an admin role in the `system` store; the admin API decides every action.
 */
export const CONSOLE_CLIENT_ID = 'portcullis-console'

/** What the provider needs from the strong-login feature (identity/ sessions and MFA). */
export interface LoginHooks {
  /** name of the sign-in session cookie */
  cookieName: string
  /**
   * Is the sign-in session in the cookie still live (not revoked, idle or expired) and the
   * given account's? Links it to the oidc-provider session uid on first sight.
   */
  sessionValid(token: string | undefined, accountId: string, oidcSessionUid: string): Promise<boolean>
  /**
   * The oidc-provider session `ended` (its uid and account) was ended — RP-initiated logout, or
   * oidc-provider ending A's session because B signed in (account switch): end the sign-in
   * sessions that belong to it, never one of another account (B's, already in the cookie).
   */
  sessionEnded(token: string | undefined, ended: { uid: string; accountId?: string }): Promise<void>
}

const sessionToken = (ctx: KoaContextWithOIDC, hooks: LoginHooks) =>
  ctx.cookies.get(hooks.cookieName, { signed: false }) ?? undefined

/** True when this authorization request demands multi-factor authentication. */
export function mfaDemanded(acrValues: unknown, clientMetadata: Record<string, unknown> | undefined) {
  if (clientMetadata?.require_mfa === true) return true
  return typeof acrValues === 'string' && acrValues.split(' ').includes(ACR_MFA)
}

/**
 * oidc-provider's default interaction policy plus two login checks:
 * - `portcullis_session`: single sign-on only while our sign-in session is live (idle and
 *   absolute timeouts, revocation from the account pages);
 * - `mfa_required`: a client with `require_mfa: true`, or a request with
 *   `acr_values=urn:portcullis:acr:mfa`, makes a password-only session sign in again (step-up).
 * Both are skipped right after a login was submitted in this request. A third,
 * `account_switch`, asks for a login after the user chose "Sign in as someone else".
 * With self-registration on, a `create` prompt comes first (prompt=create).
 */
export function loginPolicy(hooks: LoginHooks, opts: { create?: boolean } = {}) {
  const { Check, Prompt, base } = interactionPolicy
  const policy = base()
  // OpenID Connect Prompt Create 1.0 §4: `prompt=create` asks for the sign-up page first. A
  // requestable prompt is advertised in discovery (prompt_values_supported) and only then
  // accepted; it is resolved when the interaction finishes with a `create` result
  // (oidc/interactions/steps/create.ts). Only while self-registration is on.
  if (opts.create) policy.add(new Prompt({ name: 'create', requestable: true }), 0)
  const login = policy.get('login')!
  login.checks.add(
    new Check('portcullis_session', 'the sign-in session ended or expired', async (ctx: KoaContextWithOIDC) => {
      const { session, result } = ctx.oidc
      if (!session?.accountId) return Check.NO_NEED_TO_PROMPT
      // Also links the sign-in session to this oidc-provider session (right after a login too).
      const ok = await hooks.sessionValid(sessionToken(ctx, hooks), session.accountId, session.uid)
      return ok || result?.login ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT
    }),
  )
  // "Sign in as someone else" (interactions router): the consent page's switch finishes its
  // interaction with this result, so the request asks for a login again. When another account
  // signs in, oidc-provider ends the current session first (as for prompt=login).
  login.checks.add(
    new Check(ACCOUNT_SWITCH, 'the user chose to sign in as someone else', (ctx: KoaContextWithOIDC) =>
      (ctx.oidc.result as { switchAccount?: unknown } | undefined)?.switchAccount === true
        ? Check.REQUEST_PROMPT
        : Check.NO_NEED_TO_PROMPT,
    ),
  )
  login.checks.add(
    new Check('mfa_required', 'multi-factor authentication is required', (ctx: KoaContextWithOIDC) => {
      const { session, result, params, client } = ctx.oidc
      if (!session?.accountId || result?.login) return Check.NO_NEED_TO_PROMPT
      if (!mfaDemanded(params?.acr_values, client?.metadata())) return Check.NO_NEED_TO_PROMPT
      return session.acr === ACR_MFA ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT
    }),
  )
  return policy
}

export { sessionToken }

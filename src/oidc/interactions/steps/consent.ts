import type { Context } from 'koa'
import { AppError } from '../../../errors.ts'
import { consentPage } from '../views.ts'
import type { Interaction, PageKit, StepRoute } from '../kit.ts'
import type { StepKit } from '../sequence.ts'

interface ConsentDetails {
  missingOIDCScope?: string[]
  missingOIDCClaims?: string[]
  missingResourceScopes?: Record<string, string[]>
}

/**
 * Grants what the consent prompt asks for, within what the user holds, and finishes the
 * interaction: from the consent form, or without a page for a client with `skip_consent`.
 */
export async function grantConsent(
  kit: PageKit,
  ctx: Context,
  interaction: Interaction,
  accountId: string,
  skipped: boolean,
) {
  const { prompt, params } = interaction
  const provider = kit.deps.provider()
  const grant = interaction.grantId
    ? (await provider.Grant.find(interaction.grantId))!
    : new provider.Grant({ accountId, clientId: String(params.client_id) })
  const d = prompt.details as ConsentDetails
  if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '))
  if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims)
  // Issue 10 §1: resource scopes the user's roles do not hold are rejected, not granted.
  const { granted, refused } = await kit.heldSplit(accountId, d.missingResourceScopes ?? {})
  for (const [indicator, scopes] of granted) grant.addResourceScope(indicator, scopes.join(' '))
  for (const [indicator, scopes] of refused) grant.rejectResourceScope(indicator, scopes.join(' '))
  const grantId = await grant.save()
  await kit.deps.audit.record({
    action: 'consent.granted',
    outcome: 'success',
    actor: accountId,
    target: String(params.client_id),
    details: {
      scopes: d.missingOIDCScope ?? [],
      resources: Object.keys(d.missingResourceScopes ?? {}),
      ...(refused.length ? { refused: Object.fromEntries(refused) } : {}),
      ...(skipped ? { skipped: true } : {}),
    },
    ...kit.meta(ctx),
  })
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true })
  ctx.respond = false
}

/**
 * A first-party client (`skip_consent: true`, confidential only: see provider/client-metadata.ts)
 * has its consent given without a page — unless the client itself asked for one with
 * prompt=consent (OIDC Core §3.1.2.1).
 */
export async function skipsConsent(kit: PageKit, interaction: Interaction) {
  const asked = String(interaction.params.prompt ?? '')
    .split(' ')
    .includes('consent')
  if (asked || !interaction.session?.accountId) return false
  const client = await kit.deps.provider().Client.find(String(interaction.params.client_id))
  return client?.metadata().skip_consent === true
}

/** The consent page: each scope with its description, resource scopes only where the user holds them. */
export async function renderConsent(kit: PageKit, ctx: Context, interaction: Interaction) {
  const { uid, prompt, params } = interaction
  const d = prompt.details as ConsentDetails
  // oidc-provider lists resource scopes among the OIDC ones too: they are shown once, with
  // their resource, and only those the user holds.
  const resourceScopes = new Set(Object.values(d.missingResourceScopes ?? {}).flat())
  // Each scope with its human description (issue 14 §7), in the request's language.
  const describe = kit.deps.describeScopes ? await kit.deps.describeScopes() : () => undefined
  const held = (await kit.heldSplit(interaction.session?.accountId, d.missingResourceScopes ?? {})).granted
  ctx.body = consentPage({
    uid,
    csrf: kit.csrfFor(uid),
    clientName: await kit.clientName(params.client_id),
    scopes: (d.missingOIDCScope ?? [])
      .filter((s) => !resourceScopes.has(s))
      .map((scope) => ({ scope, description: describe(scope) })),
    claims: d.missingOIDCClaims ?? [],
    resources: held.map(
      ([r, list]) =>
        [r, list.map((scope) => ({ scope, description: describe(scope, r) }))] as [
          string,
          { scope: string; description?: string }[],
        ],
    ),
    signedInAs: await kit.sessionEmail(interaction),
  })
}

/** The consent form's "Allow". */
export function consentStep(kit: StepKit): StepRoute[] {
  return [
    {
      method: 'post',
      path: '/:uid/confirm',
      input: 'form',
      async handle(ctx, interaction) {
        const { prompt, session } = interaction
        if (prompt.name !== 'consent' || !session?.accountId)
          throw new AppError('wrong_step', 'nothing to confirm in this step', { status: 400 })
        await grantConsent(kit, ctx, interaction, session.accountId, false)
      },
    },
  ]
}

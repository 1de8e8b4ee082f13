import type { Middleware } from 'koa'
import type { HttpSurface } from '../http/surface.ts'
import { interactionRouter, type InteractionDeps } from './interactions/router.ts'
import { providerFormRouter } from './provider-forms.ts'

/**
 * The OpenID Provider's own pages: the sign-in and consent interactions, and the forms
 * oidc-provider renders (logout confirmation, device code). oidc-provider's endpoints
 * themselves are served after every router (src/app.ts).
 */
export function oidcHttp(deps: {
  interactions: InteractionDeps
  formGuard: Middleware
}): HttpSurface<'interactions' | 'forms'> {
  return {
    pages: { interactions: interactionRouter(deps.interactions), forms: providerFormRouter(deps.formGuard) },
  }
}

import type { Configuration, KoaContextWithOIDC } from 'oidc-provider'
import {
  deviceConfirmPage,
  deviceInputPage,
  deviceSuccessPage,
  loggedOutPage,
  logoutPage,
} from '../interactions/views.ts'
import { explainedErrorPage } from '../../views/errors.ts'
import { preferUiLocales, t } from '../../views/i18n.ts'

type Features = NonNullable<Configuration['features']>

/** The device flow's pages (RFC 8628 §3.3): enter the code, confirm the client, done. */
export const deviceFlow: Features['deviceFlow'] = {
  enabled: true,
  userCodeInputSource: async (ctx, form, _out, err) => {
    const e = err as { name?: string; userCode?: string } | undefined
    ctx.body = deviceInputPage({
      form,
      error: !e
        ? undefined
        : e.userCode || e.name === 'NoCodeError'
          ? t('device.codeInvalid')
          : e.name === 'AbortedError'
            ? t('device.aborted')
            : t('device.failed'),
    })
  },
  userCodeConfirmSource: async (ctx, form, client, _deviceInfo, userCode) => {
    ctx.body = deviceConfirmPage({ form, clientName: client.clientName ?? client.clientId, userCode })
  },
  successSource: async (ctx) => {
    ctx.body = deviceSuccessPage(ctx.oidc.client?.clientName)
  },
}

export const rpInitiatedLogout: Features['rpInitiatedLogout'] = {
  enabled: true,
  logoutSource: async (ctx, form) => {
    // RP-Initiated Logout 1.0 §2: the client may ask for a language (ui_locales) here too.
    preferUiLocales(ctx.oidc.params?.ui_locales)
    ctx.body = logoutPage({ form, host: ctx.host })
  },
  postLogoutSuccessSource: async (ctx) => {
    ctx.body = loggedOutPage(ctx.oidc.client?.clientName)
  },
}

export const renderError: NonNullable<Configuration['renderError']> = async (ctx: KoaContextWithOIDC, out, error) => {
  ctx.type = 'html'
  // The user sees it in the language the client asked for; the way back is the client's own page.
  preferUiLocales(ctx.oidc?.params?.ui_locales)
  const client = ctx.oidc?.client
  const uri = client?.metadata().client_uri
  ctx.body = explainedErrorPage({
    status: ctx.status,
    code: (error as Error | undefined)?.name === 'SessionNotFound' ? 'SessionNotFound' : out.error,
    message: out.error_description ?? out.error,
    app: client
      ? {
          name: client.clientName ?? client.clientId,
          uri: typeof uri === 'string' && /^https?:\/\//.test(uri) ? uri : undefined,
        }
      : undefined,
  })
}

import { currentLocale, hasKey, t } from './i18n.ts'
import { errorPage, type WayBack } from './layout.ts'

/**
 * The error page a person sees (issue 14 §7): what happened, in plain words and their
 * language, and a way back. Known error codes (ours and OAuth's, RFC 6749 §4.1.2.1) have their
 * own sentence in the catalogues (`error.code.<code>`); for any other, English pages show the
 * message as it is and other languages a general sentence with the message under "Technical
 * details".
 */
export function explainedErrorPage(e: {
  status: number
  code: string
  message: string
  app?: { name: string; uri?: string }
}) {
  const title =
    e.code === 'temporarily_unavailable' || e.status === 503
      ? t('error.unavailableTitle')
      : e.status === 429
        ? t('error.tooManyTitle')
        : e.status >= 500
          ? t('error.serverTitle')
          : t('error.requestTitle')
  // oidc-provider's SessionNotFound is an invalid_request: the commonest error a person meets
  // (a sign-in left open too long, or its cookie gone). Callers pass its error name as the code.
  const code = e.code === 'SessionNotFound' ? 'session_not_found' : e.code
  const known = hasKey(`error.code.${code}`)
  const message = known
    ? t(`error.code.${code}`)
    : e.status >= 500
      ? t('error.serverMessage')
      : currentLocale() === 'en'
        ? e.message
        : t('error.requestMessage')
  const back: WayBack[] = []
  // Back to the application, where the sign-in starts again (its client_uri, when registered).
  if (e.app?.uri) back.push({ href: e.app.uri, label: t('error.returnTo', { app: e.app.name }) })
  back.push({ href: '/account', label: t('error.signInAgain') })
  return errorPage(title, message, { back, detail: known || e.status >= 500 ? undefined : `${e.code}: ${e.message}` })
}

import { AppError, type StatusOf } from '../errors.ts'

/** The error codes the account pages answer with (the services' own come through as they are). */
export type AccountErrorCode = 'csrf' | 'unauthorized' | 'invalid_request' | 'not_found'

const fail = <C extends AccountErrorCode>(code: C, message: string, status: StatusOf<C>) =>
  new AppError<AccountErrorCode>(code, message, { status })

/** The account pages' errors, one constructor per case (stable codes, statuses and wording). */
export const accountErrors = {
  csrf: () => fail('csrf', 'the form expired or was not sent by this site; reload the page and try again', 403),
  sessionEnded: () => fail('unauthorized', 'your session ended; sign in again', 401),
  passkeyBody: () => fail('invalid_request', 'expected {"name", "credential": PublicKeyCredential JSON}', 400),
  noFactor: () => fail('not_found', 'no such factor on your account', 404),
  noSession: () => fail('not_found', 'no such session on your account', 404),
  noKey: () => fail('not_found', 'no such API key on your account', 404),
}

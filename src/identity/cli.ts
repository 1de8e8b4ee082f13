import { AppError } from '../errors.ts'
import type { AccountStatus } from './account-status.ts'
import type { StrongLogin } from './strong-login.ts'

/** What the identity part of `portcullis admin ...` needs (the container has this shape). */
export interface IdentityCliDeps {
  login: Pick<StrongLogin, 'lockout' | 'setRequireMfaForAll'>
  accounts: Pick<AccountStatus, 'disable' | 'enable'>
}

/** `portcullis admin ...`: account administration from the command line (strong login). */
export async function adminCommand(c: IdentityCliDeps, args: string[]): Promise<number> {
  const [sub, arg] = args
  if (sub === 'unlock') {
    if (!arg) throw new AppError('usage', 'admin unlock needs an EMAIL', { status: 400 })
    await c.login.lockout.unlock(arg, 'cli')
    process.stdout.write(`unlocked ${arg.trim().toLowerCase()}: its failed sign-in attempts are cleared\n`)
    return 0
  }
  if (sub === 'require-mfa') {
    if (arg !== 'on' && arg !== 'off') throw new AppError('usage', 'admin require-mfa takes on or off', { status: 400 })
    await c.login.setRequireMfaForAll(arg === 'on', 'cli')
    process.stdout.write(
      arg === 'on'
        ? 'every user must now use a second factor; users without one set it up at their next sign-in\n'
        : 'a second factor is now optional (clients with require_mfa still demand one)\n',
    )
    return 0
  }
  if (sub === 'disable' || sub === 'enable') {
    if (!arg) throw new AppError('usage', `admin ${sub} needs an EMAIL`, { status: 400 })
    const r = sub === 'disable' ? await c.accounts.disable(arg, 'cli') : await c.accounts.enable(arg, 'cli')
    process.stdout.write(
      !r.changed
        ? `${r.user.email} is already ${sub}d\n`
        : sub === 'disable'
          ? `disabled ${r.user.email}: ${r.sessionsEnded} session(s) ended; it cannot sign in and its API keys stop working\n`
          : `enabled ${r.user.email}: it can sign in again and its API keys work again\n`,
    )
    return 0
  }
  throw new AppError(
    'usage',
    `unknown admin subcommand ${sub ?? ''} (unlock EMAIL | require-mfa on|off | disable EMAIL | enable EMAIL)`,
    { status: 400 },
  )
}

import type { Command } from '../commands/command.ts'

/** `portcullis admin`: dependency-free (src/commands/command.ts); modules load when it runs. */
export const adminCommands: Record<string, Command> = {
  admin: {
    usage: `  admin unlock EMAIL         lift a sign-in lockout (failed attempts) for an account
  admin require-mfa on|off   require a second factor from every user (enrolment at next sign-in)
  admin disable EMAIL        disable an account: no sign-in, its sessions end, its API keys stop
  admin enable EMAIL         enable a disabled account again
  admin create-user EMAIL [--role R]... [--invite]
                             create a user with a one-time password (or a single-use invitation link), printed once
  admin reset-mfa EMAIL      remove a user's second factors and recovery codes
  admin reset-password EMAIL set a temporary password (printed once, must be changed); the user's sessions end
  admin create-client ID [--scope S]... [--redirect-uri U]...
                             create a client (code flow with redirect URIs, else client credentials); prints its secret once
  admin create-iat           an initial access token for dynamic client registration (printed once)
  admin rotate-keys          add a new signing key generation (as keys rotate; audited, every instance reloads)
  admin grant-role EMAIL|client:ID ROLE
  admin revoke-role EMAIL|client:ID ROLE
                             admin roles (admin, user-manager, client-manager, policy-editor, auditor, helpdesk)`,
    async run(config, rest, values) {
      const c = await config()
      return (await import('../commands/admin.ts')).admin(c, rest, values)
    },
  },
}

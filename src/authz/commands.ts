import type { Command } from '../commands/command.ts'
import { AppError } from '../errors.ts'

/** `portcullis policy`: dependency-free (src/commands/command.ts); modules load when it runs. */
export const authzCommands: Record<string, Command> = {
  policy: {
    usage: `  policy test FILE...        run a policy file's expected decisions (no server or database needed)
  policy apply FILE [--reason TEXT]
                             commit the file's policy store as a new version (its cases must pass)`,
    async run(config, rest, values) {
      const cli = await import('./cli.ts')
      // Policy tests run in other teams' CI: no configuration, database or server involved.
      if (rest[0] === 'test') return cli.policyTestCommand((await import('./engine-port.ts')).enginePort, rest.slice(1))
      if (rest[0] !== 'apply')
        throw new AppError('usage', `unknown policy subcommand ${rest[0] ?? ''} (test | apply)`, { status: 400 })
      return (await import('../commands/policy.ts')).policyApply(await config(), rest[1], values.reason)
    },
  },
}

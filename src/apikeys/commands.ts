import type { Command } from '../commands/command.ts'
import { APIKEYS_USAGE } from './cli-usage.ts'

/** `portcullis apikeys`: dependency-free (src/commands/command.ts). */
export const apikeysCommands: Record<string, Command> = {
  apikeys: {
    usage: APIKEYS_USAGE,
    // `apikeys` parses its own options (--owner, --scopes, --allow-ip ...); see main() in src/main.ts
    run: () => Promise.reject(new Error('unreachable')),
  },
}

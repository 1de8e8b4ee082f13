import fs from 'node:fs/promises'
import type { Config } from '../config/env.ts'
import { AppError } from '../errors.ts'
import { migrate } from '../db/migrate.ts'
import { importFile } from '../declarative/apply.ts'
import { exportDocument, formatDocument } from '../declarative/export.ts'
import { issuedKeyText } from '../apikeys/cli.ts'
import { withContainer } from './container.ts'

const out = (s: string) => process.stdout.write(s)

/** `portcullis migrate` */
export async function migrateCommand(config: Readonly<Config>): Promise<number> {
  const applied = await migrate(config.DATABASE_URL)
  out(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n')
  return 0
}

/** `portcullis import FILE` */
export async function importCommand(config: Readonly<Config>, file: string | undefined): Promise<number> {
  if (!file) throw new AppError('usage', 'import needs a FILE', { status: 400 })
  const summary = await withContainer(config, (c) =>
    importFile(c, file, 'cli', { onKeyIssued: (k) => out(issuedKeyText(k)) }),
  )
  out(
    `applied ${file}: ${summary.clients} client(s), ${summary.users} user(s), ${summary.resources} resource(s), ${summary.policy_stores} policy store(s)\n`,
  )
  return 0
}

/** `portcullis export [--format yaml|json] [--out FILE]` */
export async function exportCommand(
  config: Readonly<Config>,
  opts: { format?: string; out?: string },
): Promise<number> {
  const format = opts.format === 'json' ? 'json' : 'yaml'
  const text = await withContainer(config, async (c) => formatDocument(await exportDocument(c), format))
  if (opts.out) await fs.writeFile(opts.out, text)
  else out(text)
  return 0
}

function maxTokenLifetime(config: Readonly<Config>, resourceTtls: number[]) {
  // Old keys stay published while anything they signed may still be presented, plus clock skew.
  return Math.max(config.ACCESS_TOKEN_TTL, config.ID_TOKEN_TTL, ...resourceTtls) + 300
}

/** `portcullis keys list|rotate` */
export function keysCommand(config: Readonly<Config>, sub = 'list'): Promise<number> {
  return withContainer(config, async (c) => {
    if (sub === 'rotate') {
      const ttls = (await c.resources.list()).map((r) => r.accessTokenTtl)
      const r = await c.keys.rotate(maxTokenLifetime(config, ttls), new Date(), (added) =>
        c.audit.with((retired: number) => ({
          action: 'keys.rotated',
          outcome: 'success',
          actor: 'cli',
          details: { added, retired },
        })),
      )
      out(
        `new signing keys: ${r.added.map((k) => `${k.alg} ${k.kid}`).join(', ')}\nprevious keys stay published until the tokens they signed expire; ${r.retired} key(s) retired now\nrunning servers pick the new keys up within KEYS_REFRESH_INTERVAL (${config.KEYS_REFRESH_INTERVAL}s)\n`,
      )
      return 0
    }
    if (sub === 'list') {
      for (const k of await c.keys.list()) {
        out(
          `${k.status.padEnd(9)} ${k.alg.padEnd(6)} ${k.kid}  created ${k.createdAt.toISOString()}${k.retireAfter ? `  retire after ${k.retireAfter.toISOString()}` : ''}\n`,
        )
      }
      return 0
    }
    throw new AppError('usage', `unknown keys subcommand ${sub} (list | rotate)`, { status: 400 })
  })
}

import fs from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { AppError } from '../errors.ts'
import { LEVELS, type Level } from './levels.ts'
import type { Actor, SigningInput } from './issue.ts'
import { keyView, type ApiKeyService } from './service.ts'
import { APIKEYS_USAGE } from './cli-usage.ts'

export { APIKEYS_USAGE }

const usage = (msg: string) => new AppError('usage', `${msg}\n\n${APIKEYS_USAGE}`, { status: 400 })

/** "30d", "12h", "15m", "90s" or plain seconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+)([dhms]?)$/.exec(v.trim())
  if (!m) throw usage(`not a duration: ${v} (e.g. 30d, 12h, 3600)`)
  return Number(m[1]) * { d: 86400, h: 3600, m: 60, s: 1, '': 1 }[m[2] as 'd' | 'h' | 'm' | 's' | '']
}

/** What `portcullis apikeys ...` needs of the running server (the container has this shape). */
export interface ApiKeysCliDeps {
  apikeys: Pick<ApiKeyService, 'issue' | 'list' | 'owners' | 'revoke' | 'rotate'>
}

/** `portcullis apikeys ...`: the operator at the console acts as an administrator. */
export async function apikeysCommand(
  c: ApiKeysCliDeps,
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      owner: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      level: { type: 'string' },
      'expires-in': { type: 'string' },
      'allow-ip': { type: 'string', multiple: true },
      'rate-limit': { type: 'string' },
      signing: { type: 'string' },
      'public-key': { type: 'string' },
      grace: { type: 'string' },
    },
  })
  const [sub, id] = positionals
  const actor: Actor = { label: 'cli', isAdmin: true }
  switch (sub) {
    case 'create': {
      if (!values.owner || !values.name) throw usage('create needs --owner and --name')
      const level = (values.level ?? 'MEDIUM').toUpperCase() as Level
      if (!LEVELS.includes(level)) throw usage(`--level must be one of ${LEVELS.join(', ')}`)
      let signing: SigningInput | undefined
      if (values['public-key']) signing = { alg: 'ed25519', publicKey: await fs.readFile(values['public-key'], 'utf8') }
      else if (values.signing === 'hmac-sha256') signing = { alg: 'hmac-sha256' }
      else if (values.signing) throw usage('--signing must be hmac-sha256 (or give --public-key FILE for Ed25519)')
      const rateLimit = values['rate-limit'] ? Number(values['rate-limit']) : undefined
      if (rateLimit !== undefined && !(Number.isInteger(rateLimit) && rateLimit > 0))
        throw usage('--rate-limit must be a positive whole number (requests per minute)')
      const issued = await c.apikeys.issue(
        {
          owner: await c.apikeys.owners.resolve(values.owner),
          name: values.name,
          scopes: (values.scopes ?? '').split(/[ ,]+/).filter(Boolean),
          level,
          expiresAt: values['expires-in']
            ? new Date(Date.now() + parseDuration(values['expires-in']) * 1000)
            : undefined,
          allowedIps: values['allow-ip'],
          rateLimit,
          signing,
        },
        actor,
      )
      const v = keyView(issued.record)
      out(
        `key id:     ${v.id}\nowner:      ${v.owner}\nlevel:      ${v.level}\nscopes:     ${v.scopes.join(' ') || '(none)'}\nexpires at: ${v.expires_at}\nstatus:     ${v.status}\n\n`,
      )
      out(`API key (shown once, store it now):\n  ${issued.key}\n`)
      if (issued.signingSecret) out(`signing secret (hmac-sha256, shown once):\n  ${issued.signingSecret}\n`)
      return 0
    }
    case 'list': {
      const keys = await c.apikeys.list(values.owner ? await c.apikeys.owners.resolve(values.owner) : undefined)
      for (const k of keys.map(keyView)) {
        out(
          `${k.id}  ${k.status.padEnd(16)} ${k.level.padEnd(8)} ${k.owner}  ${JSON.stringify(k.name)}  expires ${k.expires_at}  ${k.scopes.join(' ')}\n`,
        )
      }
      if (!keys.length) out('no API keys\n')
      return 0
    }
    case 'rotate': {
      if (!id) throw usage('rotate needs a key ID')
      const r = await c.apikeys.rotate(id, actor, values.grace ? { graceSeconds: parseDuration(values.grace) } : {})
      out(
        `new key id: ${r.record.id} (expires ${r.record.expiresAt.toISOString()})\nold key ${id} works until ${r.previous.expiresAt.toISOString()}\n\n`,
      )
      out(`API key (shown once, store it now):\n  ${r.key}\n`)
      if (r.signingSecret) out(`signing secret (hmac-sha256, shown once):\n  ${r.signingSecret}\n`)
      return 0
    }
    case 'revoke': {
      if (!id) throw usage('revoke needs a key ID')
      await c.apikeys.revoke(id, actor)
      out(`revoked ${id}\n`)
      return 0
    }
    default:
      throw usage(`unknown apikeys subcommand ${sub ?? ''}`)
  }
}

/** How an import prints a key it issued (once). */
export function issuedKeyText(k: { owner: string; name: string; id: string; key: string; signingSecret?: string }) {
  return `\n  portcullis: issued API key ${JSON.stringify(k.name)} for ${k.owner} (id ${k.id}); shown once:\n  ${k.key}\n${k.signingSecret ? `  signing secret: ${k.signingSecret}\n` : ''}\n`
}

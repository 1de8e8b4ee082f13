import path from 'node:path'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

/**
 * The layering rules of DESIGN.md "Layout" bite: the repository's own eslint.config.js (the one
 * `npm run lint` runs in CI) refuses each forbidden import and lets the allowed one through.
 * Files are linted as text under fake paths, so nothing in src/ is touched.
 */
const root = path.resolve(import.meta.dirname, '../..')
const eslint = new ESLint({ cwd: root, overrideConfigFile: path.join(root, 'eslint.config.js') })

const layeringErrors = async (file: string, text: string) => {
  const [result] = await eslint.lintText(`${text}\nexport const used = x\n`, { filePath: path.join(root, file) })
  return (result?.messages ?? []).filter((m) => m.ruleId === 'portcullis/layering').map((m) => m.message)
}

const cases: Array<{ rule: string; text: string; refused: string[]; allowed: string[] }> = [
  {
    rule: 'only src/authz imports casbin',
    text: "import x from 'casbin'",
    refused: ['src/apikeys/x.ts', 'src/oidc/x.ts', 'src/http/x.ts'],
    allowed: ['src/authz/x.ts', 'src/authz/engine/x.ts'],
  },
  {
    rule: 'only src/db and queries import Prisma (the package)',
    text: "import x from '@prisma/client'",
    refused: ['src/apikeys/service.ts', 'src/http/x.ts'],
    allowed: ['src/db/x.ts', 'src/apikeys/queries.ts', 'src/identity/queries/x.ts'],
  },
  {
    rule: 'only src/db and queries import Prisma (the generated client)',
    text: "import x from '../generated/sqlite/client.ts'",
    refused: ['src/audit/service.ts'],
    allowed: ['src/db/client.ts', 'src/audit/queries.ts'],
  },
  {
    rule: 'only src/oidc imports oidc-provider',
    text: "import type x from 'oidc-provider'",
    refused: ['src/identity/x.ts', 'src/app.ts'],
    allowed: ['src/oidc/x.ts', 'src/oidc/interactions/x.ts'],
  },
  {
    rule: 'nothing imports oidc-provider internals',
    text: "import x from 'oidc-provider/lib/helpers/weak_cache.js'",
    refused: ['src/oidc/x.ts', 'test/x.test.ts'],
    allowed: [],
  },
  {
    rule: 'src/config imports no capability',
    text: "import { x } from '../audit/syslog.ts'",
    refused: ['src/config/env.ts'],
    allowed: ['src/identity/x.ts'],
  },
  {
    rule: 'src/http imports no capability beyond the listed exceptions',
    text: "import { x } from '../apikeys/service.ts'",
    refused: ['src/http/x.ts', 'src/http/contract.ts'],
    allowed: ['src/oidc/x.ts'],
  },
  {
    rule: 'no capability imports the container (type imports included)',
    text: "import type { Container as x } from '../container.ts'",
    // no exception list: the admin services, the CLIs, bootstrap and the import/export declare narrow deps
    refused: [
      'src/apikeys/new-file.ts',
      'src/oidc/x.ts',
      'src/admin/users.ts',
      'src/admin/cli.ts',
      'src/declarative/apply.ts',
    ],
    allowed: ['src/commands/x.ts'],
  },
  {
    rule: 'files at the top of src/ import the container only as the entry points',
    text: "import type { Container as x } from './container.ts'",
    refused: ['src/bootstrap.ts', 'src/logger.ts'],
    allowed: ['src/app.ts', 'src/server.ts', 'src/main.ts'],
  },
  {
    rule: 'dynamic imports and re-exports are judged too',
    text: "const x = await import('casbin')\nexport * from 'casbin'",
    refused: ['src/metrics/x.ts'],
    allowed: ['src/authz/x.ts'],
  },
]

describe('layering lint rule (eslint.config.js)', () => {
  for (const c of cases) {
    it(c.rule, async () => {
      for (const file of c.refused)
        expect(await layeringErrors(file, c.text), `${file} should be refused`).not.toEqual([])
      for (const file of c.allowed) expect(await layeringErrors(file, c.text), `${file} should be allowed`).toEqual([])
    })
  }

  it('the exception lists only cover what they name', async () => {
    // src/http/ has no exception left (the account pages moved to src/account/); app.ts may import
    // the container.
    expect(await layeringErrors('src/http/account/x.ts', "import { x } from '../../identity/users.ts'")).not.toEqual([])
    expect(await layeringErrors('src/http/account/x.ts', "import { x } from '../../authz/service.ts'")).not.toEqual([])
    expect(await layeringErrors('src/http/decision-lane.ts', "import { x } from '../apikeys/service.ts'")).not.toEqual(
      [],
    )
    expect(await layeringErrors('src/app.ts', "import type { Container as x } from './container.ts'")).toEqual([])
  })
})

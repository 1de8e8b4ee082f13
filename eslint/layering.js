// The layering rules of DESIGN.md "Layout" as one lint rule. It resolves relative imports to a
// path under the repository, so `../authz/x.ts` and `../../authz/x.ts` are judged alike, and it
// sees every form an import can take (import, import type, export ... from, import(), TS
// `import('x').T` types). Paths are relative to the repository root with forward slashes.
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

// Top-level folders of src/ that are not capabilities: infrastructure and toolkits. Every other
// folder under src/ is a capability (so a new capability is covered without editing this list).
const NOT_CAPABILITIES = new Set(['config', 'db', 'http', 'net', 'views', 'generated', 'commands', 'crypto'])

const rel = (file) => path.relative(root, file).split(path.sep).join('/')

/** The capability folder a repository path belongs to, or undefined. */
const capabilityOf = (p) => {
  const m = /^src\/([^/]+)\//.exec(p)
  return m && !NOT_CAPABILITIES.has(m[1]) ? m[1] : undefined
}

const isPrismaClientFile = (p) => p.startsWith('src/db/') || /(^|\/)queries\.ts$/.test(p) || /(^|\/)queries\//.test(p)

/**
 * The rule has no exceptions: the src/http toolkit imports no capability and every feature
 * declares the narrow dependencies it needs instead of the container.
 */
const check = (file, spec) => {
  const problems = []
  const target = spec.startsWith('.') ? rel(path.resolve(path.dirname(path.resolve(root, file)), spec)) : undefined
  const inSrc = file.startsWith('src/')
  // Prisma: the package, its adapters and the generated client.
  const isPrisma =
    spec === '@prisma/client' ||
    spec.startsWith('@prisma/client/') ||
    spec.startsWith('@prisma/adapter-') ||
    (target !== undefined && target.startsWith('src/generated/'))
  if (inSrc && isPrisma && !isPrismaClientFile(file) && !file.startsWith('src/generated/')) {
    problems.push('only src/db/ and queries.ts (or queries/) files import Prisma; go through a queries module')
  }
  if (inSrc && (spec === 'casbin' || spec.startsWith('casbin/')) && !file.startsWith('src/authz/')) {
    problems.push('only src/authz/ imports casbin; use the authz engine facade')
  }
  if (spec.startsWith('oidc-provider/lib')) {
    problems.push('nothing imports oidc-provider internals (oidc-provider/lib/...); use its public API')
  } else if (
    inSrc &&
    (spec === 'oidc-provider' || spec.startsWith('oidc-provider/')) &&
    !file.startsWith('src/oidc/')
  ) {
    problems.push('only src/oidc/ imports oidc-provider')
  }
  if (target !== undefined) {
    const targetCapability = capabilityOf(target)
    if (file.startsWith('src/config/') && targetCapability) {
      problems.push(`src/config/ imports no capability (imports src/${targetCapability}/)`)
    }
    if (file.startsWith('src/http/') && targetCapability) {
      problems.push(`src/http/ is a toolkit and imports no capability (imports ${target})`)
    }
    if (
      target === 'src/container.ts' &&
      inSrc &&
      !['src/app.ts', 'src/server.ts', 'src/main.ts'].includes(file) &&
      !file.startsWith('src/commands/')
    ) {
      problems.push(
        'no capability imports the container; declare the narrow dependencies you need ' +
          '(only src/app.ts, src/server.ts, src/main.ts and src/commands/ may)',
      )
    }
  }
  return problems
}

const layering = {
  meta: {
    type: 'problem',
    docs: { description: 'enforce the layering of DESIGN.md "Layout"' },
    schema: [],
  },
  create(context) {
    const file = rel(context.filename)
    if (file.startsWith('..')) return {}
    const judge = (node, source) => {
      if (!source || typeof source.value !== 'string') return
      for (const message of check(file, source.value)) context.report({ node, message })
    }
    return {
      ImportDeclaration: (node) => judge(node, node.source),
      ExportNamedDeclaration: (node) => judge(node, node.source),
      ExportAllDeclaration: (node) => judge(node, node.source),
      ImportExpression: (node) => judge(node, node.source.type === 'Literal' ? node.source : undefined),
      TSImportType: (node) => judge(node, node.argument?.literal ?? node.argument),
      TSExternalModuleReference: (node) => judge(node, node.expression),
    }
  },
}

export default { rules: { layering } }

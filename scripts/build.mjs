#!/usr/bin/env node
/**
 * Compiles src/ to dist/ (one .js file per .ts file, same folder layout) so that the
 * `portcullis` command and `npm start` run plain JavaScript instead of transpiling TypeScript on
 * every start. Runs during `npm ci` / `npm install` (postinstall, after the Prisma client is
 * generated into src/generated) and by hand with `npm run build`.
 *
 * Why esbuild and not tsc: it is the transpiler tsx already uses at run time (so the compiled
 * code behaves exactly like the development path), it is installed with tsx (a runtime
 * dependency, so production installs without devDependencies can still build) and it compiles
 * the ~190 files in well under a second. Type checking stays `npm run typecheck`.
 *
 * Layout matters: dist/ mirrors src/ file for file, so paths resolved relative to
 * `import.meta.url` (policies/ and prisma/ migrations two levels up, views/assets next door)
 * resolve the same from both. Non-TypeScript files in src/ (css, js assets) are copied.
 * dist/.build.json is written last; bin/portcullis.mjs uses dist/ only when that stamp exists
 * and no file in src/ changed after the build started.
 */
import fs from 'node:fs'
import path from 'node:path'
import { build } from 'esbuild'

const root = path.resolve(import.meta.dirname, '..')
const src = path.join(root, 'src')
const dist = path.join(root, 'dist')
// Built next to dist/ and swapped in at the end, so that a process starting from dist/ during a
// build sees the old build or the new one, never half of one.
const out = path.join(root, `dist.building-${process.pid}`)
const STAMP = path.join(out, '.build.json')

const startedAt = Date.now()
const files = fs
  .readdirSync(src, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => path.join(e.parentPath, e.name))
const entries = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
const assets = files.filter((f) => !f.endsWith('.ts'))

// Every import stays an import: relative ones get the .js name of their compiled file
// (sources import with .ts suffixes, allowImportingTsExtensions), packages stay packages.
const keepImports = {
  name: 'keep-imports',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => ({ path: args.path.replace(/\.ts$/, '.js'), external: true }))
  },
}

process.on('exit', () => fs.rmSync(out, { recursive: true, force: true })) // a failed build leaves nothing

await build({
  entryPoints: entries,
  outbase: src,
  outdir: out,
  bundle: true, // only so the plugin sees every import; each file is its own output
  packages: 'external',
  plugins: [keepImports],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  keepNames: true, // like tsx: class and function names survive (error names, logs)
  sourcemap: 'linked', // for NODE_OPTIONS=--enable-source-maps when a stack trace must point at src/
  logLevel: 'warning',
})

for (const file of assets) {
  const dest = path.join(out, path.relative(src, file))
  fs.mkdirSync(path.dirname(dest), { recursive: true })
  fs.copyFileSync(file, dest)
}
fs.writeFileSync(STAMP, JSON.stringify({ builtAt: startedAt, files: files.length }) + '\n')
const old = path.join(root, `dist.old-${process.pid}`)
if (fs.existsSync(dist)) fs.renameSync(dist, old)
fs.renameSync(out, dist)
fs.rmSync(old, { recursive: true, force: true })
process.stdout.write(`portcullis: compiled ${entries.length} files to dist/ in ${Date.now() - startedAt} ms\n`)

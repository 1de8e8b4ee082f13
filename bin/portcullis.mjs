#!/usr/bin/env node
// The `portcullis` command (and `npm start`). It runs the compiled JavaScript in dist/, built from
// src/ by `npm ci` / `npm install` (postinstall) or `npm run build`, when that build is current:
// its stamp exists and no file in src/ is newer than the build or was added or removed since.
// Otherwise (a development checkout with edited sources) it runs the TypeScript sources through
// tsx's loader, which transpiles on every start (seconds of CPU instead of a fraction of one).
// PORTCULLIS_FROM_SOURCE=1 forces the sources.
import fs from 'node:fs'
import module from 'node:module'
import path from 'node:path'

// Node 22.1+ keeps compiled code of loaded modules in a cache (os.tmpdir()), which shortens the
// next start; Node 20 has no such cache and skips this.
module.enableCompileCache?.()

const root = path.resolve(import.meta.dirname, '..')

function compiledIsCurrent() {
  let stamp
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, 'dist/.build.json'), 'utf8'))
  } catch {
    return false
  }
  const entries = fs.readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })
  let files = 0
  for (const e of entries) {
    if (!e.isFile()) continue
    files++
    if (fs.statSync(path.join(e.parentPath, e.name)).mtimeMs > stamp.builtAt) return false
  }
  return files === stamp.files
}

if (process.env.PORTCULLIS_FROM_SOURCE !== '1' && compiledIsCurrent()) {
  await import('../dist/main.js')
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/main.ts')
}

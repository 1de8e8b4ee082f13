import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import Router from '@koa/router'
import { brandCss, type Brand } from '../views/brand.ts'

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../views/assets')
const TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8' }

/** The few static files the pages use, read once at start, and the brand's colours (brand.css). */
export function assetsRouter(brand: Brand) {
  const files = new Map<string, { body: Buffer; type: string }>()
  for (const name of fs.readdirSync(dir)) {
    const type = TYPES[path.extname(name)]
    if (type) files.set(name, { body: fs.readFileSync(path.join(dir, name)), type })
  }
  files.set('brand.css', { body: Buffer.from(brandCss(brand)), type: TYPES['.css']! })
  const router = new Router({ prefix: '/assets' })
  router.get('/:name', (ctx) => {
    const file = files.get(ctx.params.name!)
    if (!file) return
    ctx.set('Cache-Control', 'public, max-age=3600')
    ctx.type = file.type
    ctx.body = file.body
  })
  return router
}

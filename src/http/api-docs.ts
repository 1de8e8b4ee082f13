import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import Router from '@koa/router'
import { z } from 'zod'
import { defineRoute, mountRoutes, route, type Route } from './contract.ts'
import { openApiDocument, type OpenApiInfo } from './openapi.ts'

/**
 * GET /openapi.json (the OpenAPI 3.1 document of every JSON API, generated from the route
 * contracts) and GET /docs/api (a reference page: Swagger UI from the swagger-ui-dist package,
 * served from node_modules, no CDN). Both public: the document describes, it grants nothing.
 */

export const openApiContract = defineRoute({
  operationId: 'openApiDocument',
  method: 'get',
  path: '/openapi.json',
  tags: ['Meta'],
  auth: 'public',
  summary: 'This OpenAPI 3.1 document',
  responses: { 200: { description: 'the document', body: z.record(z.string(), z.unknown()) } },
})

const require = createRequire(import.meta.url)
/** The only files of swagger-ui-dist the page uses (nothing else in node_modules is reachable). */
const UI_FILES: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
}

// Our own start script (the CSP allows no inline script): the document is one level up.
const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#api',
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  })
})
`

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>portcullis API reference</title>
<link rel="stylesheet" href="/docs/api/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/api/assets/favicon-32x32.png">
</head>
<body>
<div id="api"></div>
<noscript>This reference needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript>
<script src="/docs/api/assets/swagger-ui-bundle.js"></script>
<script src="/docs/api/assets/init.js"></script>
</body>
</html>
`

export interface ApiDocsDeps {
  /** every route of the JSON APIs, as mounted */
  routes: readonly Route[]
  info: OpenApiInfo
}

export function apiDocsRouter(deps: ApiDocsDeps) {
  const router = new Router()
  // Built once, on first request (not at start): the contracts do not change while the
  // process runs, and most servers are never asked.
  let document: Record<string, unknown> | undefined
  const all: Route[] = [route(openApiContract, () => (document ??= openApiDocument(all, deps.info))), ...deps.routes]
  mountRoutes(router, all.slice(0, 1), { bearerSchemes: [] })

  router.get('/docs/api', (ctx) => {
    ctx.type = 'html'
    ctx.set('Cache-Control', 'no-cache')
    ctx.body = PAGE
  })

  // Read on first use, not at start: the bundle is large and most servers never show it.
  const dir = path.dirname(require.resolve('swagger-ui-dist/package.json'))
  const cache = new Map<string, Promise<Buffer>>()
  router.get('/docs/api/assets/:name', async (ctx) => {
    const name = ctx.params.name!
    if (name === 'init.js') {
      ctx.type = 'text/javascript; charset=utf-8'
      ctx.body = INIT_JS
      return
    }
    const type = UI_FILES[name]
    if (!type) return // 404
    let file = cache.get(name)
    if (!file) {
      cache.set(name, (file = fs.readFile(path.join(dir, name))))
      file.catch(() => cache.delete(name))
    }
    ctx.set('Cache-Control', 'public, max-age=86400')
    ctx.type = type
    ctx.body = await file
  })
  return router
}

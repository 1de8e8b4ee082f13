import type { Context } from 'koa'

/**
 * Answers with a server-rendered page that must never be cached and must not pass its URL on:
 * the pages behind mailed links carry a single-use token in their query string, so no Referer
 * may carry it to another site (and no cache keep the page).
 */
export function sendLinkPage(ctx: Context, body: string, status = 200) {
  ctx.set('Cache-Control', 'no-store')
  ctx.set('Referrer-Policy', 'no-referrer')
  ctx.type = 'html'
  ctx.status = status
  ctx.body = body
}

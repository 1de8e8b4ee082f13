import type { Context } from 'koa'
import { AppError } from '../errors.ts'

const LIMIT = 64 * 1024

async function readRaw(ctx: Context, limit: number): Promise<string> {
  // Already buffered (e.g. by request-signature verification, which needs the exact bytes).
  const buffered = (ctx.state as { rawBody?: Buffer }).rawBody
  if (buffered) {
    if (buffered.length > limit) throw new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 })
    return buffered.toString('utf8')
  }
  return (await bufferBody(ctx, limit)).toString('utf8')
}

/**
 * The raw request body as bytes, read once and kept on ctx.state.rawBody so later readers
 * (readJson, readForm) get the same bytes. Used where a digest of the body must be checked.
 */
export async function readRawBody(ctx: Context, limit = 1024 * 1024): Promise<Buffer> {
  const state = ctx.state as { rawBody?: Buffer }
  state.rawBody ??= await bufferBody(ctx, limit)
  return state.rawBody
}

async function bufferBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > limit) throw new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 })
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > limit) throw new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 })
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** An HTML form post (application/x-www-form-urlencoded) as a plain object of strings. */
export async function readForm(ctx: Context, limit = LIMIT): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new AppError('unsupported_media_type', 'expected an application/x-www-form-urlencoded body', { status: 415 })
  }
  return Object.fromEntries(new URLSearchParams(await readRaw(ctx, limit)))
}

/** A JSON request body; malformed JSON is a 400, never a 500. */
export async function readJson(ctx: Context, limit = 1024 * 1024): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) {
    throw new AppError('unsupported_media_type', 'expected an application/json body', { status: 415 })
  }
  const text = await readRaw(ctx, limit)
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('invalid_json', 'request body is not valid JSON', { status: 400 })
  }
}

import type { IncomingMessage } from 'node:http'
import type { Context } from 'koa'
import { AppError } from '../errors.ts'
import { assertStorableBody } from './middleware/input-guard.ts'

const LIMIT = 64 * 1024

const BUFFERED = Symbol('portcullis.bufferedBody')

/**
 * Hands a body that was already read off the socket (by the decision fast lane, which then
 * passed the request on to Koa) to the readers below.
 */
export function attachBufferedBody(req: IncomingMessage, body: Buffer) {
  ;(req as IncomingMessage & { [BUFFERED]?: Buffer })[BUFFERED] = body
}
const bufferedOn = (ctx: Context) => (ctx.req as IncomingMessage & { [BUFFERED]?: Buffer })[BUFFERED]

/**
 * The body's bytes, read once (a reader that already buffered them, e.g. request-signature verification, left them on
 * the request).
 */
export async function readBytes(ctx: Context, limit: number): Promise<Buffer> {
  const buffered = (ctx.state as { rawBody?: Buffer }).rawBody ?? bufferedOn(ctx)
  if (buffered) {
    if (buffered.length > limit)
      throw new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 })
    return buffered
  }
  return bufferBody(ctx, limit)
}

/** The body as text, refused (400) when it carries what storage cannot take (input-guard.ts). */
async function readRaw(ctx: Context, limit: number): Promise<string> {
  const raw = await readBytes(ctx, limit)
  assertStorableBody(ctx, raw)
  return raw.toString('utf8')
}

/**
 * The raw request body as bytes, read once and kept on ctx.state.rawBody so later readers
 * (readJson, readForm) get the same bytes. Used where a digest of the body must be checked.
 */
export async function readRawBody(ctx: Context, limit = 1024 * 1024): Promise<Buffer> {
  const state = ctx.state as { rawBody?: Buffer }
  state.rawBody ??= bufferedOn(ctx) ?? (await bufferBody(ctx, limit))
  if (state.rawBody.length > limit)
    throw new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 })
  return state.rawBody
}

function bufferBody(ctx: Context, limit: number): Promise<Buffer> {
  const declared = Number(ctx.get('content-length') || 0)
  if (declared > limit)
    return Promise.reject(new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 }))
  // Plain stream events rather than `for await`: the async iterator costs a promise per chunk,
  // and this runs on every decision request.
  return new Promise((resolve, reject) => {
    const req = ctx.req
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) {
        cleanup()
        req.resume() // drain the rest so the connection stays usable for the error response
        reject(new AppError('payload_too_large', `request body larger than ${limit} bytes`, { status: 413 }))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(new AppError('invalid_request', `the request body could not be read: ${err.message}`, { status: 400 }))
    }
    const onAborted = () => onError(new Error('the client aborted the request'))
    const cleanup = () => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
      req.off('aborted', onAborted)
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
    req.once('aborted', onAborted)
  })
}

/** An HTML form post (application/x-www-form-urlencoded) as a plain object of strings. */
export async function readForm(ctx: Context, limit = LIMIT): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new AppError('unsupported_media_type', 'expected an application/x-www-form-urlencoded body', { status: 415 })
  }
  return Object.fromEntries(new URLSearchParams(await readRaw(ctx, limit)))
}

/** A form post with repeated fields (e.g. checkboxes) kept: URLSearchParams, getAll() for lists. */
export async function readFormParams(ctx: Context, limit = LIMIT): Promise<URLSearchParams> {
  if (!ctx.is('application/x-www-form-urlencoded')) {
    throw new AppError('unsupported_media_type', 'expected an application/x-www-form-urlencoded body', { status: 415 })
  }
  return new URLSearchParams(await readRaw(ctx, limit))
}

/** Deepest nesting a JSON body may have: deeper documents are refused before parsing. */
export const JSON_MAX_DEPTH = 32

/**
 * True when `text` nests arrays/objects deeper than `max`. One pass over the characters,
 * skipping strings, so a hostile 1 MiB of `[` costs a scan rather than a parse and a
 * recursive validation that could exhaust the stack.
 */
export function jsonTooDeep(text: string, max = JSON_MAX_DEPTH): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (inString) {
      if (ch === 0x5c)
        i++ // backslash: skip the escaped character
      else if (ch === 0x22) inString = false
    } else if (ch === 0x22) inString = true
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true
    } else if (ch === 0x5d || ch === 0x7d) depth--
  }
  return false
}

/** A JSON request body; malformed JSON is a 400, never a 500. */
export async function readJson(ctx: Context, limit = 1024 * 1024): Promise<unknown> {
  if (!ctx.is('application/json', '+json')) {
    throw new AppError('unsupported_media_type', 'expected an application/json body', { status: 415 })
  }
  const text = await readRaw(ctx, limit)
  if (jsonTooDeep(text))
    throw new AppError('invalid_json', `request body nests deeper than ${JSON_MAX_DEPTH} levels`, { status: 400 })
  try {
    return JSON.parse(text)
  } catch {
    throw new AppError('invalid_json', 'request body is not valid JSON', { status: 400 })
  }
}

import crypto from 'node:crypto'
import type { z } from 'zod'
import { adminError, invalidInput } from './errors.ts'
import type { Cursor } from './queries.ts'

export const PAGE_MAX = 200

/** Validates input with zod; every bad field is listed (400 `invalid_input`). */
export function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input)
  if (!r.success) throw invalidInput(r.error.issues)
  return r.data
}

/** A strong ETag (RFC 9110 §8.8.3) over the fields a write can change, including updatedAt. */
export const etagOf = (fields: unknown[]) =>
  `"${crypto.createHash('sha256').update(JSON.stringify(fields)).digest('base64url').slice(0, 27)}"`

/** The cursor carries both sort keys (createdAt, id), so rows sharing a timestamp are neither repeated nor skipped. */
export const encodeCursor = (c: Cursor) =>
  Buffer.from(JSON.stringify([c.createdAt.toISOString(), c.id])).toString('base64url')

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (text === undefined) return undefined
  try {
    const [at, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[]
    const createdAt = new Date(typeof at === 'string' ? at : NaN)
    if (typeof id === 'string' && id.length <= 200 && !Number.isNaN(createdAt.getTime())) return { createdAt, id }
  } catch {
    /* below */
  }
  throw adminError('invalid_cursor', 'the cursor is not one this server issued; start from the first page')
}

/**
 * Text a database can store as given. PostgreSQL refuses NUL in text (`invalid byte sequence
 * for encoding "UTF8": 0x00`), and a lone UTF-16 surrogate has no UTF-8 form: the driver
 * writes U+FFFD instead, so what is stored differs from what was checked or hashed.
 */

// Without the `u` flag a regular expression works on UTF-16 code units, which is what is needed here.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** Why `s` cannot be stored as text, or undefined. */
export function textProblem(s: string): string | undefined {
  if (s.includes('\u0000')) return 'a NUL character'
  if (LONE_SURROGATE.test(s)) return 'a lone UTF-16 surrogate'
  return undefined
}

/** `s` with NUL and lone surrogates written as JSON-style `\uXXXX` escapes (readable, storable, stable). */
export function escapeUnstorable(s: string): string {
  if (!textProblem(s)) return s
  return s.replace(UNSTORABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * When administrators are expected to work: `[DAYS ]HH:MM-HH:MM[ TIMEZONE]`, e.g.
 * `mon-fri 08:00-18:00 Europe/Berlin`, `08:00-20:00` (every day, UTC), `sat,sun 10:00-12:00`.
 * The end may be before the start (a night shift across midnight).
 */
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']

export interface AdminWindow {
  days: Set<number>
  start: number
  end: number
  timeZone: string
  text: string
}

export function parseAdminWindow(text: string): AdminWindow | string {
  const m = /^\s*(?:([a-z,-]+)\s+)?(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})(?:\s+(\S+))?\s*$/i.exec(text)
  if (!m) return 'must look like "mon-fri 08:00-18:00 Europe/Berlin" (days and time zone optional)'
  const days = new Set<number>()
  for (const part of (m[1] ?? 'sun-sat').toLowerCase().split(',')) {
    const [a, b] = part.split('-')
    const from = DAYS.indexOf(a ?? '')
    const to = b === undefined ? from : DAYS.indexOf(b)
    if (from < 0 || to < 0) return `unknown day in "${part}" (use ${DAYS.join(', ')})`
    for (let d = from; ; d = (d + 1) % 7) {
      days.add(d)
      if (d === to) break
    }
  }
  const start = Number(m[2]) * 60 + Number(m[3])
  const end = Number(m[4]) * 60 + Number(m[5])
  if (start >= 24 * 60 || end > 24 * 60 || Number(m[3]) > 59 || Number(m[5]) > 59)
    return 'times must be between 00:00 and 24:00'
  const timeZone = m[6] ?? 'UTC'
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
  } catch {
    return `unknown time zone ${timeZone}`
  }
  return { days, start, end, timeZone, text: text.trim() }
}

export function insideWindow(w: AdminWindow, at: Date): boolean {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: w.timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at)
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? ''
  const day = DAYS.indexOf(get('weekday').toLowerCase().slice(0, 3))
  const minute = Number(get('hour')) * 60 + Number(get('minute'))
  if (w.start <= w.end) return w.days.has(day) && minute >= w.start && minute < w.end
  // Across midnight: the part after midnight belongs to the previous day's shift.
  return (w.days.has(day) && minute >= w.start) || (w.days.has((day + 6) % 7) && minute < w.end)
}

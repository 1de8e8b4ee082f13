import { spawn } from 'node:child_process'
import path from 'node:path'
import { expect, it } from 'vitest'

/** Runs a small program with the process handlers installed; returns its exit code and output. */
function run(body: string) {
  const logger = path.resolve('src/logger.ts')
  const program = `import { register } from 'tsx/esm/api'
register()
const { createLogger, installProcessHandlers } = await import(${JSON.stringify(logger)})
installProcessHandlers(createLogger('info'))
${body}`
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

it('an uncaught exception is one fatal JSON line on stdout, nothing on stderr, and exit 1', async () => {
  const r = await run(`setTimeout(() => { throw new Error('boom at startup') }, 1)`)
  expect(r.code).toBe(1)
  expect(r.stderr).toBe('')
  const lines = r.stdout.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(JSON.parse(lines[0]!)).toMatchObject({
    level: 60,
    msg: 'uncaught exception; exiting',
    err: { type: 'Error', message: 'boom at startup', stack: expect.stringContaining('boom at startup') },
  })
}, 30_000)

it('an unhandled rejection is one error JSON line and the process keeps running', async () => {
  const r = await run(`void Promise.reject(new Error('nobody caught me'))
setTimeout(() => { console.log(JSON.stringify({ still: 'running' })); process.exit(0) }, 200)`)
  expect(r.code).toBe(0)
  expect(r.stderr).toBe('')
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  expect(lines[0]).toMatchObject({
    level: 50,
    msg: 'unhandled promise rejection',
    err: { message: 'nobody caught me' },
  })
  expect(lines[1]).toEqual({ still: 'running' })
}, 30_000)

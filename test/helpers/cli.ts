import { spawn } from 'node:child_process'
import path from 'node:path'

/** The `portcullis` command as users run it. */
export const BIN = path.resolve('bin/portcullis.mjs')

/** oidc-provider v9 warns once per process that Node 20 is not an LTS it supports (README). */
const withoutRuntimeNotice = (stderr: string) => stderr.replace(/^oidc-provider WARNING: Unsupported runtime.*\n/m, '')

/**
 * Runs `portcullis ARGS` to completion in a child process that sees only PATH and `env` (in
 * `opts.cwd`, default this process's), and returns its exit code and output (stderr without the
 * Node 20 runtime notice).
 */
export function runCli(args: string[], env: Record<string, string>, opts: { cwd?: string; bin?: string } = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], {
      cwd: opts.cwd,
      env: { PATH: process.env.PATH!, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) => resolve({ code, stdout, stderr: withoutRuntimeNotice(stderr) }))
  })
}

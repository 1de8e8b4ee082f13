/**
 * Start-up cost of the `portcullis` command, before and after the lean CLI, in one run:
 *
 *   node --import tsx bench/cli-startup.ts [--runs 5] [--smoke]
 *
 * Three ways of starting, measured interleaved so that load on a shared machine hits each alike:
 * - `before`: what `bin/portcullis.mjs` did until the lean CLI — tsx's loader transpiling every
 *   module at start, with the whole program loaded whatever the command (emulated by preloading
 *   every command module with --import, which is what main.ts's static imports did);
 * - `source`: today's lazy commands, still through tsx (PORTCULLIS_FROM_SOURCE=1: a checkout with
 *   edited sources);
 * - `compiled`: today's default after `npm ci`: the JavaScript in dist/ (rebuilt first here).
 *
 * Measured (wall time and CPU time, median of --runs): `portcullis help`; `portcullis policy test FILE` (a
 * small RBAC file); and start to ready — a process started on an existing embedded (SQLite)
 * database until GET /readyz answers 200. `compiled` and `source` start through `npm start`,
 * as a service would; `before` starts with `node` directly (npm's own ~0.3 s is not counted
 * against it). Targets (wall time on an idle machine): help < 0.5 s, policy test < 1.5 s, npm
 * start to ready < 3 s. On a shared, loaded machine wall time stretches with the load; the CPU
 * time (user + system of the command and every process below it, e.g. npm and the server) is
 * what the command itself costs. For start to ready it runs until the server has stopped again
 * after SIGTERM (the shutdown is a small part).
 * Results: bench/results/cli-startup.json and a section of bench/RESULTS.md (--smoke: one run,
 * nothing written; CI uses it to prove the benchmark works).
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from './lib.ts'

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, smoke: { type: 'boolean', default: false } },
})
const runs = values.smoke ? 1 : Number(values.runs)
const ROOT = path.resolve(import.meta.dirname, '..')
const RESULTS_JSON = path.join(ROOT, 'bench/results/cli-startup.json')
const RESULTS_MD = path.join(ROOT, 'bench/RESULTS.md')
const TARGETS_MS = { help: 500, 'policy test': 1500, 'start to ready': 3000 }

type Mode = 'before' | 'source' | 'compiled'
const MODES: Mode[] = ['before', 'source', 'compiled']
/** every module main.ts imported statically before the commands were loaded lazily */
const EAGER = [
  'src/commands/serve.ts',
  'src/commands/data.ts',
  'src/authz/cli.ts',
  'src/authz/engine-port.ts',
  'src/apikeys/cli.ts',
  'src/audit/cli.ts',
  'src/identity/cli.ts',
]

function command(
  mode: Mode,
  args: string[],
  viaNpm = false,
): { cmd: string; args: string[]; env: Record<string, string> } {
  if (mode === 'before')
    return {
      cmd: process.execPath,
      args: ['--import', 'tsx', ...EAGER.flatMap((m) => ['--import', `./${m}`]), 'src/main.ts', ...args],
      env: {},
    }
  const env: Record<string, string> = mode === 'source' ? { PORTCULLIS_FROM_SOURCE: '1' } : {}
  return viaNpm
    ? { cmd: 'npm', args: ['start'], env }
    : { cmd: process.execPath, args: ['bin/portcullis.mjs', ...args], env }
}

/**
 * CPU milliseconds of this process's reaped children (cutime + cstime, /proc/self/stat fields 16
 * and 17; clock ticks of 10 ms). Runs are sequential, so the difference around one run is that
 * run's CPU, including its own children (npm waits for the server it starts).
 */
function childrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) * 10
}

interface Sample {
  wall: number
  cpu: number
}

const baseEnv = (extra: Record<string, string>) => ({
  PATH: process.env.PATH!,
  HOME: process.env.HOME ?? os.tmpdir(),
  LOG_LEVEL: 'warn',
  ...extra,
})

/** runs to completion; milliseconds from spawn to exit */
function timeRun(mode: Mode, args: string[], env: Record<string, string>) {
  const c = command(mode, args)
  const cpu = childrenCpuMs()
  const start = performance.now()
  return new Promise<Sample>((resolve, reject) => {
    const child = spawn(c.cmd, c.args, {
      cwd: ROOT,
      env: baseEnv({ ...env, ...c.env }),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code) =>
      code === 0
        ? resolve({ wall: performance.now() - start, cpu: childrenCpuMs() - cpu })
        : reject(new Error(`${mode} ${args.join(' ')}: exit ${code}\n${stderr}`)),
    )
  })
}

/** starts a server on `dataDir`; milliseconds from spawn until /readyz answers 200, then stops it */
async function timeStart(mode: Mode, dataDir: string) {
  const port = await freePort()
  const c = command(mode, ['serve'], true)
  const cpu = childrenCpuMs()
  const start = performance.now()
  const child = spawn(c.cmd, c.args, {
    cwd: ROOT,
    env: baseEnv({ ...c.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1' }),
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  let wall = NaN
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${mode} serve exited ${child.exitCode}\n${stderr}`)
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined)
      if (r?.status === 200) break
      if (performance.now() - start > 120_000) throw new Error(`${mode} serve not ready after 120 s\n${stderr}`)
      await new Promise((res) => setTimeout(res, 20))
    }
    wall = performance.now() - start
  } finally {
    child.kill('SIGTERM') // npm start passes it on to the server (exec)
    await exited
  }
  return { wall, cpu: childrenCpuMs() - cpu }
}

const POLICY = `name: bench
model: rbac.conf
policy: |
  p, reader, doc1, read
  p, writer, doc1, write
  g, writer, reader
  g, alice, writer
  g, bob, reader
cases:
  - { request: [alice, doc1, write], expect: allow }
  - { request: [bob, doc1, read], expect: allow }
  - { request: [bob, doc1, write], expect: deny }
`

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor((s.length - 1) / 2)]!
}

async function main() {
  process.stdout.write('building dist/ (npm run build)\n')
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' })
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'portcullis-bench-cli-'))
  const policyFile = path.join(tmp, 'policy.yaml')
  await fs.writeFile(policyFile, POLICY)
  const dataDir = path.join(tmp, 'data')
  await timeStart('compiled', dataDir) // creates and migrates the embedded database, bootstraps

  const samples: Record<string, Record<Mode, Sample[]>> = {}
  const add = (what: string, mode: Mode, sample: Sample) => {
    samples[what] ??= { before: [], source: [], compiled: [] }
    samples[what][mode].push(sample)
  }
  try {
    for (let i = 0; i < runs; i++) {
      for (const mode of MODES) add('help', mode, await timeRun(mode, ['help'], {}))
      for (const mode of MODES) add('policy test', mode, await timeRun(mode, ['policy', 'test', policyFile], {}))
      for (const mode of MODES) add('start to ready', mode, await timeStart(mode, dataDir))
      process.stdout.write(`run ${i + 1}/${runs} done\n`)
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }

  const rows: Row[] = Object.entries(samples).map(([what, byMode]) => {
    const of = (k: keyof Sample) =>
      Object.fromEntries(MODES.map((mode) => [mode, Math.round(median(byMode[mode].map((s) => s[k])))])) as Record<
        Mode,
        number
      >
    const wall = of('wall')
    const cpu = of('cpu')
    const target = TARGETS_MS[what as keyof typeof TARGETS_MS]
    return {
      what,
      wall,
      cpu,
      cpu_speedup: Math.round((cpu.before / cpu.compiled) * 10) / 10,
      target_ms: target,
      wall_met: wall.compiled < target,
      cpu_within_target: cpu.compiled < target,
    }
  })
  const result = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
    runs,
    median_ms: rows,
  }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  if (values.smoke) return
  await fs.mkdir(path.dirname(RESULTS_JSON), { recursive: true })
  await fs.writeFile(RESULTS_JSON, JSON.stringify(result, null, 2) + '\n')
  await writeSection(result, rows)
}

interface Row {
  what: string
  wall: Record<Mode, number>
  cpu: Record<Mode, number>
  cpu_speedup: number
  target_ms: number
  wall_met: boolean
  cpu_within_target: boolean
}

async function writeSection(
  result: { date: string; node: string; cpus: number; loadavg: number[]; runs: number },
  rows: Row[],
) {
  const label: Record<string, string> = {
    help: '`portcullis help`',
    'policy test': '`portcullis policy test FILE`',
    'start to ready': '`npm start` to /readyz 200 (existing SQLite)',
  }
  const cell = (r: Row, mode: Mode) =>
    mode === 'compiled' ? `**${r.wall[mode]}** / **${r.cpu[mode]}**` : `${r.wall[mode]} / ${r.cpu[mode]}`
  const table = rows.map(
    (r) =>
      `| ${label[r.what]} | ${MODES.map((m) => cell(r, m)).join(' | ')} | ${r.cpu_speedup}x | < ${r.target_ms} | ${r.wall_met ? 'yes' : 'no'} | ${r.cpu_within_target ? 'yes' : 'no'} |`,
  )
  const section = `<!-- cli-startup:begin -->
## CLI and server start-up (\`bench/cli-startup.ts\`)

${result.date}, node ${result.node}, ${result.cpus} CPUs, load average ${result.loadavg.join(' ')} at the end, median of ${result.runs} runs;
each cell is wall time / CPU time in ms (CPU: user + system of the command and every process below it).
Wall time stretches with the machine's load (on a shared 2-core machine under load it is several times the CPU
time); CPU time is what the command itself costs, and about its wall time on an idle machine.
\`before\`: tsx transpiling the whole program at every start (the CLI until the lean commands);
\`source\`: lazy commands through tsx (\`PORTCULLIS_FROM_SOURCE=1\`, or a checkout with edited sources);
\`compiled\`: lazy commands from dist/, the default after \`npm ci\`. \`before\` starts the server with \`node\`, the others
with \`npm start\`.

| command | before | source | compiled | CPU before / compiled | target (wall) | wall met | CPU under target |
|---|---:|---:|---:|---:|---:|:-:|:-:|
${table.join('\n')}
<!-- cli-startup:end -->`
  const current = await fs
    .readFile(RESULTS_MD, 'utf8')
    .catch(
      () => '# Benchmark results\n\nEach section is written by the script it names (`npm run bench` runs them all).\n',
    )
  const re = /<!-- cli-startup:begin -->[\s\S]*<!-- cli-startup:end -->/
  await fs.writeFile(
    RESULTS_MD,
    re.test(current) ? current.replace(re, section) : `${current.trimEnd()}\n\n${section}\n`,
  )
  process.stdout.write(`wrote ${path.relative(ROOT, RESULTS_MD)}\n`)
}

await main()

/**
 * Start to ready and idle memory (issue 16 §7: start to ready ≤ 2 s on an existing embedded
 * database, idle RSS ≤ 150 MB), portcullis vs bare oidc-provider (bench/bare-provider.mjs), in
 * the same run.
 *
 *   node --import tsx bench/footprint.ts [--starts 3] [--smoke]
 *
 * portcullis: `node bin/portcullis.mjs serve` (compiled dist/ when current — run `npm run build`
 * first, as `npm run bench` does), started once to create the database, then `--starts` times
 * again on the existing database without an import file; ready = the first 200 from /readyz.
 * Bare: `node bench/bare-provider.mjs`, ready = the first 200 from discovery. Idle RSS: the
 * process (and its children) 3 s after ready, no request served but the probe. CPU to ready:
 * user + system of the process tree when it became ready. --smoke: one start of each, SQLite,
 * nothing written. Results: bench/results/footprint.json and its section of bench/RESULTS.md.
 */
import fs from 'node:fs/promises'
import { parseArgs } from 'node:util'
import {
  backends,
  freePort,
  machineLine,
  median,
  round,
  rssKb,
  startChild,
  startPortcullis,
  treeCpuSeconds,
  waitReady,
  writeSection,
  type Backend,
} from './lib.ts'

const { values } = parseArgs({
  options: { starts: { type: 'string', default: '3' }, smoke: { type: 'boolean', default: false } },
})
const starts = values.smoke ? 1 : Number(values.starts)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const doc = {
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789-abcdefghijklmnop',
      grant_types: ['client_credentials'],
      response_types: [],
      scope: 'authz:check',
    },
  ],
}

interface Sample {
  ready_ms: number
  cpu_to_ready_ms: number
  idle_rss_mb: number
}

async function portcullisStarts(backend: Backend): Promise<Sample[]> {
  const first = await startPortcullis(backend, doc)
  await first.stop()
  const out: Sample[] = []
  try {
    for (let i = 0; i < starts; i++) {
      const s = await startPortcullis(backend, undefined, { dir: first.dir })
      await sleep(values.smoke ? 500 : 3000)
      out.push({
        ready_ms: s.readyMs,
        cpu_to_ready_ms: s.readyCpuSeconds * 1000,
        idle_rss_mb: rssKb(s.child.pid!) / 1024,
      })
      await s.stop()
    }
  } finally {
    await fs.rm(first.dir, { recursive: true, force: true })
  }
  return out
}

async function bareStarts(): Promise<Sample[]> {
  const out: Sample[] = []
  for (let i = 0; i < starts; i++) {
    const port = await freePort()
    const s = startChild('oidc-provider', ['bench/bare-provider.mjs', String(port)], {}, port)
    const readyMs = await waitReady(s, '/.well-known/openid-configuration')
    const cpu = treeCpuSeconds(s.child.pid!)
    await sleep(values.smoke ? 500 : 3000)
    out.push({ ready_ms: readyMs, cpu_to_ready_ms: cpu * 1000, idle_rss_mb: rssKb(s.child.pid!) / 1024 })
    await s.stop()
  }
  return out
}

const summarise = (xs: Sample[]) => ({
  ready_ms: round(median(xs.map((x) => x.ready_ms)), 0),
  cpu_to_ready_ms: round(median(xs.map((x) => x.cpu_to_ready_ms)), 0),
  idle_rss_mb: round(median(xs.map((x) => x.idle_rss_mb)), 1),
})

const results: Record<string, unknown> = { at: new Date().toISOString(), starts }
results.bare_oidc_provider = summarise(await bareStarts())
for (const b of await backends(values.smoke)) {
  try {
    results[b.label] = summarise(await portcullisStarts(b))
  } finally {
    await b.drop?.()
  }
}
console.log(JSON.stringify(results, null, 2))
if (!values.smoke) {
  await fs.mkdir('bench/results', { recursive: true })
  await fs.writeFile('bench/results/footprint.json', JSON.stringify(results, null, 2) + '\n')
  const bare = results.bare_oidc_provider as ReturnType<typeof summarise>
  const rows = Object.entries(results)
    .filter(([k]) => !['at', 'starts', 'bare_oidc_provider'].includes(k))
    .map(([label, v]) => {
      const r = v as ReturnType<typeof summarise>
      return `| portcullis, ${label} | ${r.ready_ms} | ${r.cpu_to_ready_ms} | ${r.idle_rss_mb} | ${r.ready_ms <= 2000 ? 'met' : 'missed'} | ${r.idle_rss_mb <= 150 ? 'met' : 'missed'} |`
    })
  await writeSection(
    'footprint',
    `## Start to ready and idle memory (\`bench/footprint.ts\`)

${machineLine()} at the end; median of ${starts} starts on an existing database (no import file), \`node bin/portcullis.mjs serve\`
from compiled dist/; bare oidc-provider: \`node bench/bare-provider.mjs\`. Wall time stretches with the machine's load;
CPU to ready is the process's own cost.

| server | start to ready ms | CPU to ready ms | idle RSS MB | ≤ 2 s | ≤ 150 MB |
|---|---:|---:|---:|:-:|:-:|
${rows.join('\n')}
| bare oidc-provider | ${bare.ready_ms} | ${bare.cpu_to_ready_ms} | ${bare.idle_rss_mb} | | |`,
  )
}
process.exit(0)

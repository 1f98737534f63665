/**
 * `npm run build && node dist/bench/idle-memory-breakdown.js [--connections N] [--snapshot]`
 *
 * Where the memory of an idle MQTT mTLS session goes (issue 15), in Portcullis and in the bare
 * Node TLS pipe: the servers run as the bench runs them (pinned to core 0, Mosquitto behind them),
 * with `--expose-gc --require servers/memory-hook.js`. For each, after a warm-up of 200 sessions
 * opened and closed, the hook samples the process (after a full GC) before and after N idle
 * sessions are opened (the bench's idle measurement: mTLS + CONNECT, keepalive 0), and the
 * difference per session is split two ways:
 *
 *   by owner (process.memoryUsage): V8 heap in use after GC, V8 heap committed (which grows in
 *     steps, so it is noisy), `external` (memory V8 is told about: Buffers, ArrayBuffers), and the
 *     rest of RSS, which V8 does not know about: OpenSSL's SSL objects and record buffers, libuv
 *     handles, Node's C++ wraps, allocator slack (and whatever free heap pages V8 keeps resident)
 *   by mapping (/proc/<pid>/smaps): glibc's main arena ([heap]), other anonymous memory (V8's
 *     pages, other threads' arenas, large mmap'd allocations), file-backed pages
 *
 * With --snapshot, a heap snapshot before and after (default 1,000 sessions) gives the V8 heap per
 * session by constructor; that run prints no RSS rows, since the first snapshot's own native
 * allocations stay resident and would be charged to the sessions. The numbers are printed;
 * nothing is written to bench/results.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { diffPerUnit, summarizeHeapSnapshotFile } from './heap-snapshot-diff'
import { LoadWorker } from './load/worker-client'
import type { Target } from './load/target'
import { hasCommand, openFileLimit, pinSelf } from './machine'
import { createBenchPki } from './pki'
import { rssBytes } from './proc-stats'
import type { MemorySample } from './servers/memory-hook'
import { startMosquitto } from './servers/mosquitto'
import { startNodePipe } from './servers/node-pipe'
import { configurePortcullis, MQTT_HOSTNAME, startPortcullis } from './servers/portcullis'
import type { ServerProcess } from './servers/child'

const RABBITMQ = { port: 5672, username: 'guest', password: 'guest' }
const WARMUP = 200
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const out = (text: string): void => void process.stdout.write(text + '\n')

interface Split {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  outsideV8: number
  mainArena: number
  anonymous: number
  file: number
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  const at = argv.indexOf('--connections')
  const snapshot = argv.includes('--snapshot')
  const requested = at >= 0 ? Number(argv[at + 1]) : snapshot ? 1000 : 2000
  if (!Number.isInteger(requested) || requested < 1) {
    process.stderr.write('usage: idle-memory-breakdown [--connections N] [--snapshot]\n')
    return 2
  }
  const fd = openFileLimit()
  const connections = Math.min(requested, Math.floor((fd.soft - 256) / 2))
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-membreak-'))
  const hookDir = join(dir, 'memory')
  mkdirSync(hookDir)
  process.env.BENCH_MEMORY_HOOK_DIR = hookDir
  const nodeArgs = ['--expose-gc', '--require', join(__dirname, 'servers/memory-hook.js')]
  const pinning = hasCommand('taskset')
  if (pinning) pinSelf(1)
  const servers: ServerProcess[] = []
  let sender: LoadWorker | undefined
  try {
    const pki = await createBenchPki(dir)
    const mosquitto = await startMosquitto(dir, 0)
    servers.push(mosquitto)
    const files = { serverCertFile: pki.files.serverCert, serverKeyFile: pki.files.serverKey }
    const pipe = await startNodePipe({ core: 0, ...files, clientCaFile: pki.files.clientCaPem, mqttBackendPort: mosquitto.port, amqpBackendPort: RABBITMQ.port, nodeArgs })
    servers.push(pipe)
    const gateway = await startPortcullis({ dir, core: 0, ...files, workers: 1, nodeArgs })
    servers.push(gateway)
    await configurePortcullis(gateway.admin, { mqttBackendPort: mosquitto.port, amqp: { port: RABBITMQ.port, username: RABBITMQ.username, password: RABBITMQ.password }, clientCa: pki.clientCa })
    const mtls = { servername: MQTT_HOSTNAME, ca: pki.serverCa.cert, cert: pki.client.cert, key: pki.client.key }
    sender = new LoadWorker('sender')
    const endpoints: Array<{ label: string; pid: number; target: Target }> = [
      { label: 'Node TLS pipe', pid: pipe.pid, target: { host: '127.0.0.1', port: pipe.ports.mqttMtls, tls: mtls } },
      { label: 'Portcullis', pid: gateway.pid, target: { host: '127.0.0.1', port: gateway.mqttPort, tls: mtls } },
    ]
    const splits: Split[] = []
    const heaps: Array<ReturnType<typeof diffPerUnit>> = []
    for (const ep of endpoints) {
      process.stderr.write(`idle-memory-breakdown: ${ep.label}, ${connections} sessions${snapshot ? ' (with heap snapshots)' : ''}\n`)
      // First sessions allocate once-only things (compiled code, caches, pools): not per session.
      await sender.call('openIdle', { target: ep.target, count: WARMUP, concurrency: 32 })
      await sender.call('closeIdle', undefined)
      await sleep(1000)
      const before = await sampleOf(hookDir, ep.pid, 'before', snapshot)
      const rssBefore = rssBytes(ep.pid)
      const opened = await sender.call('openIdle', { target: ep.target, count: connections, concurrency: 32 })
      if (opened.failures > 0) process.stderr.write(`  ${opened.failures} failed, first: ${opened.firstError ?? '?'}\n`)
      await sleep(1500)
      const rssAfter = rssBytes(ep.pid)
      const after = await sampleOf(hookDir, ep.pid, 'after', snapshot)
      await sender.call('closeIdle', undefined)
      const n = opened.opened
      splits.push(split(before, after, n))
      process.stderr.write(`  RSS from /proc before the GC samples: ${((rssAfter - rssBefore) / n / 1024).toFixed(1)} KiB per session\n`)
      if (snapshot && before.snapshot !== undefined && after.snapshot !== undefined) {
        heaps.push(diffPerUnit(summarizeHeapSnapshotFile(before.snapshot), summarizeHeapSnapshotFile(after.snapshot), n))
        rmSync(before.snapshot, { force: true })
        rmSync(after.snapshot, { force: true })
      }
      await sleep(1000)
    }
    // Writing the first snapshot leaves its own native allocations in the arena, so the RSS rows
    // of a snapshot run would charge them to the sessions: that run reports the V8 heap only.
    if (!snapshot) out(report(endpoints.map((e) => e.label), splits, connections))
    else out(`V8 heap in use per idle session after a full GC (KiB): ${endpoints.map((e, i) => `${e.label} ${(splits[i]?.heapUsed ?? 0).toFixed(1)}`).join(', ')}; RSS rows omitted in a snapshot run (the first snapshot's native allocations stay resident).`)
    if (heaps.length === endpoints.length) out('\n' + heapReport(endpoints.map((e) => e.label), heaps))
    return 0
  } finally {
    sender?.stop()
    for (const s of servers.reverse()) await s.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Asks the hook in `pid` for a sample (after a GC; a heap snapshot too where asked) and waits for it. */
async function sampleOf(dir: string, pid: number, tag: string, snapshot: boolean): Promise<MemorySample> {
  const file = join(dir, `${pid}-${tag}.json`)
  writeFileSync(join(dir, `${pid}.request`), JSON.stringify({ tag, snapshot }))
  process.kill(pid, 'SIGUSR2')
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(100)) {
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as MemorySample
  }
  throw new Error(`no memory sample from ${pid} (is the hook loaded?)`)
}

function split(a: MemorySample, b: MemorySample, n: number): Split {
  const per = (x: number, y: number): number => (y - x) / n / 1024
  const m0 = a.memoryUsage
  const m1 = b.memoryUsage
  return {
    rss: per(m0.rss, m1.rss),
    heapUsed: per(m0.heapUsed, m1.heapUsed),
    heapTotal: per(m0.heapTotal, m1.heapTotal),
    external: per(m0.external, m1.external),
    arrayBuffers: per(m0.arrayBuffers, m1.arrayBuffers),
    outsideV8: per(m0.rss - m0.heapUsed - m0.external, m1.rss - m1.heapUsed - m1.external),
    mainArena: per(a.smaps.mainArenaBytes, b.smaps.mainArenaBytes),
    anonymous: per(a.smaps.anonymousBytes, b.smaps.anonymousBytes),
    file: per(a.smaps.fileBytes, b.smaps.fileBytes),
  }
}

function report(labels: string[], s: Split[], connections: number): string {
  const rows: Array<[string, keyof Split]> = [
    ['RSS (after a full GC)', 'rss'],
    ['by owner: V8 heap in use', 'heapUsed'],
    ['by owner: V8 heap committed (in use + free pages V8 keeps)', 'heapTotal'],
    ['by owner: external (Buffers, ArrayBuffers: what V8 is told about)', 'external'],
    ['… of which ArrayBuffers', 'arrayBuffers'],
    ['by owner: RSS − V8 heap in use − external (native: OpenSSL, libuv, Node C++ objects, allocator slack; and V8\'s free pages)', 'outsideV8'],
    ['by mapping: glibc main arena ([heap])', 'mainArena'],
    ['by mapping: other anonymous (V8 pages, thread arenas, large mmap allocations)', 'anonymous'],
    ['by mapping: file-backed', 'file'],
  ]
  const head = `Idle MQTT mTLS sessions: ${connections.toLocaleString('en-US')} opened per endpoint after ${WARMUP} warm-up sessions; KiB per session (after − before) ÷ sessions.\n\n` +
    `| KiB per idle session | ${labels.join(' | ')} | ${labels[1] ?? ''} − ${labels[0] ?? ''} |\n| --- |${labels.map(() => ' ---: |').join('')} ---: |`
  return [head, ...rows.map(([label, key]) => {
    const values = s.map((x) => x[key])
    return `| ${label} | ${values.map((v) => v.toFixed(1)).join(' | ')} | ${((values[1] ?? 0) - (values[0] ?? 0)).toFixed(1)} |`
  })].join('\n')
}

function heapReport(labels: string[], heaps: Array<ReturnType<typeof diffPerUnit>>): string {
  const parts: string[] = []
  labels.forEach((label, i) => {
    const rows = (heaps[i] ?? []).slice(0, 20)
    const total = (heaps[i] ?? []).reduce((n, r) => n + r.bytes, 0)
    parts.push(`V8 heap per idle session, ${label} (heap snapshots; ${(total / 1024).toFixed(1)} KiB in kinds that grew or shrank by ≥ 16 B):\n\n| kind | objects per session | bytes per session |\n| --- | ---: | ---: |\n` +
      rows.map((r) => `| ${r.key.replace(/\|/g, '\\|')} | ${r.count.toFixed(2)} | ${r.bytes.toFixed(0)} |`).join('\n'))
  })
  return parts.join('\n\n')
}

main().then(
  (code) => { process.exitCode = code },
  (e: unknown) => {
    process.stderr.write(`idle-memory-breakdown: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exitCode = 1
  },
)

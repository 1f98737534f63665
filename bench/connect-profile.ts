/**
 * `npm run build && node dist/bench/connect-profile.js [options]`
 *
 * What one MQTT mTLS connection (TLS handshake with the client certificate + CONNECT/CONNACK +
 * DISCONNECT) — or, with `--amqp`, one AMQP 0-9-1 connection over TLS to Open-Ok and its
 * Connection.Close — costs a proxy process, as work counts rather than rates (issue 15): for each
 * endpoint, a freshly started process serves blocks of exactly N connections (C in flight), and
 * for each block the script reports
 *   - CPU per connection (µs, user + system of every thread of the process, process.cpuUsage()), and
 *   - bytes allocated on the V8 heap per connection (servers/work-hook.ts, from V8's GC records),
 * the first block being the first N connections after start (cold code, which the warm-up is
 * for) and the others the same process warm. Endpoints: the bare Node TLS pipe and one Portcullis
 * per `--tree DIR` (a built checkout; default this one), so a tree before a change and one after
 * it run alternately, in a different order each round, on the same machine minutes apart.
 *
 *   --connections N   per block (default 500)      --blocks B      blocks per start (default 3)
 *   --rounds R        fresh starts per endpoint (default 3)          --concurrency C (default 8)
 *   --resume          offer the previous TLS session (resumed handshakes)
 *   --amqp            AMQP connects to Open-Ok instead (RabbitMQ on 127.0.0.1:5672, guest/guest;
 *                     the pipe's clients log in to RabbitMQ, the gateway's with an AccessKey)
 *   --tree DIR        a Portcullis tree to measure (repeatable; default this tree)
 *   --no-pipe         leave the Node pipe out
 *   --pipe-reads-cert also measure the pipe that reads the client's certificate (node-pipe.ts)
 *   --pipe-tiered     also measure the pipe under the gateway's V8 tiering (src/runtime/v8-tiering.ts):
 *                     what the same interrupt budget does for Node's own socket code
 *   --node-args "…"   extra Node options for the Portcullis processes (e.g. --cpu-prof …)
 *
 * Both servers run pinned to core 0 (Mosquitto too), this script on core 1, as the bench does.
 * Also printed: how long each Portcullis took from spawn to its listeners' ready lines.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { stringify } from 'yaml'
import { AmqpSession } from './load/amqp-session'
import { MqttSession } from './load/mqtt-session'
import { ConnectTemplate } from './load/mqtt-wire'
import type { AmqpAuth, Target } from './load/target'
import { hasCommand, pinSelf } from './machine'
import { createBenchPki } from './pki'
import { startPinned, type ServerProcess } from './servers/child'
import { startMosquitto } from './servers/mosquitto'
import { startNodePipe } from './servers/node-pipe'
import { AdminClient, AMQP_HOSTNAME, AMQP_INSTANCE, configurePortcullis, MQTT_HOSTNAME } from './servers/portcullis'
import type { WorkSample } from './servers/work-hook'
import { CONNECTION_INTERRUPT_BUDGET } from '../src/runtime/v8-tiering'

const RABBITMQ = { port: 5672, username: 'guest', password: 'guest' }
const THIS_TREE = join(__dirname, '../..')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const out = (text: string): void => void process.stdout.write(text + '\n')

interface Options {
  connections: number
  blocks: number
  rounds: number
  concurrency: number
  resume: boolean
  amqp: boolean
  trees: string[]
  pipe: boolean
  pipeReadsCert: boolean
  pipeTiered: boolean
  nodeArgs: string[]
}

interface Block { cpuMicros: number; allocatedBytes: number; connections: number; failures: number; resumed: number }

function parse(argv: string[]): Options | string {
  const o: Options = { connections: 500, blocks: 3, rounds: 3, concurrency: 8, resume: false, amqp: false, trees: [], pipe: true, pipeReadsCert: false, pipeTiered: false, nodeArgs: [] }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = (): string => argv[++i] ?? ''
    if (arg === '--connections') o.connections = Number(value())
    else if (arg === '--blocks') o.blocks = Number(value())
    else if (arg === '--rounds') o.rounds = Number(value())
    else if (arg === '--concurrency') o.concurrency = Number(value())
    else if (arg === '--resume') o.resume = true
    else if (arg === '--amqp') o.amqp = true
    else if (arg === '--tree') o.trees.push(resolve(value()))
    else if (arg === '--no-pipe') o.pipe = false
    else if (arg === '--pipe-reads-cert') o.pipeReadsCert = true
    else if (arg === '--pipe-tiered') o.pipeTiered = true
    else if (arg === '--node-args') o.nodeArgs = value().split(' ').filter((a) => a !== '')
    else return `unknown option ${String(arg)}`
  }
  if (o.trees.length === 0) o.trees.push(THIS_TREE)
  for (const n of [o.connections, o.blocks, o.rounds, o.concurrency]) if (!Number.isInteger(n) || n < 1) return 'counts must be positive integers'
  return o
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2))
  if (typeof o === 'string') {
    process.stderr.write(`connect-profile: ${o}\n`)
    return 2
  }
  if (hasCommand('taskset')) pinSelf(1)
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-connprof-'))
  const hookDir = join(dir, 'work')
  mkdirSync(hookDir)
  const hookArgs = ['--require', join(__dirname, 'servers/work-hook.js')]
  // Inherited by every server this script starts (the pipe takes the script's environment).
  process.env.BENCH_WORK_HOOK_DIR = hookDir
  const env = process.env
  const servers: ServerProcess[] = []
  const results = new Map<string, Block[][]>()
  const startTimes = new Map<string, number[]>()
  try {
    const pki = await createBenchPki(dir)
    const mosquitto = await startMosquitto(dir, 0)
    servers.push(mosquitto)
    const files = { serverCertFile: pki.files.serverCert, serverKeyFile: pki.files.serverKey }
    const tls = o.amqp
      ? { servername: AMQP_HOSTNAME, ca: pki.serverCa.cert }
      : { servername: MQTT_HOSTNAME, ca: pki.serverCa.cert, cert: pki.client.cert, key: pki.client.key }
    const endpoints = [...(o.pipe ? ['pipe'] : []), ...(o.pipeReadsCert ? ['pipe-cert'] : []), ...(o.pipeTiered ? ['pipe-tiered'] : []), ...o.trees]
    for (let round = 0; round < o.rounds; round++) {
      // Rotate the order each round so that no endpoint always runs first (or after the same one).
      const order = endpoints.map((_, i) => endpoints[(i + round) % endpoints.length] as string)
      for (const ep of order) {
        let server: ServerProcess
        let target: Target
        let auth: AmqpAuth = { kind: 'plain', username: RABBITMQ.username, password: RABBITMQ.password }
        const t0 = performance.now()
        if (ep === 'pipe' || ep === 'pipe-cert' || ep === 'pipe-tiered') {
          const pipe = await startNodePipe({
            core: 0, ...files, clientCaFile: pki.files.clientCaPem, mqttBackendPort: mosquitto.port, amqpBackendPort: RABBITMQ.port,
            readPeerCertificate: ep === 'pipe-cert',
            nodeArgs: ep === 'pipe-tiered' ? [`--interrupt-budget=${CONNECTION_INTERRUPT_BUDGET}`, ...hookArgs] : hookArgs,
          })
          server = pipe
          target = { host: '127.0.0.1', port: o.amqp ? pipe.ports.amqpTls : pipe.ports.mqttMtls, tls }
        } else {
          const gw = await startGateway(ep, dir, `gw${round}-${order.indexOf(ep)}`, files, [...o.nodeArgs, ...hookArgs], env)
          server = gw.server
          const started = performance.now() - t0
          startTimes.set(ep, [...(startTimes.get(ep) ?? []), started])
          const accessKey = await configurePortcullis(gw.admin, { mqttBackendPort: mosquitto.port, amqp: RABBITMQ, clientCa: pki.clientCa })
          auth = { kind: 'accessKey', instanceId: AMQP_INSTANCE, ...accessKey }
          target = { host: '127.0.0.1', port: o.amqp ? gw.amqpPort : gw.mqttPort, tls }
        }
        servers.push(server)
        const blocks: Block[] = []
        for (let b = 0; b < o.blocks; b++) blocks.push(await measureBlock(server.pid, hookDir, target, auth, o))
        await server.stop()
        servers.splice(servers.indexOf(server), 1)
        results.set(ep, [...(results.get(ep) ?? []), blocks])
        process.stderr.write(`connect-profile: round ${round + 1} ${label(ep)}: ${blocks.map((b) => `${(b.cpuMicros / b.connections).toFixed(0)} µs ${(b.allocatedBytes / b.connections / 1024).toFixed(1)} KiB`).join(' | ')}\n`)
      }
    }
    out(report(o, results, startTimes))
    return 0
  } finally {
    for (const s of servers.reverse()) await s.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

function label(ep: string): string {
  if (ep === 'pipe-cert') return 'Node TLS pipe reading the certificate'
  if (ep === 'pipe-tiered') return `Node TLS pipe, --interrupt-budget=${CONNECTION_INTERRUPT_BUDGET}`
  return ep === 'pipe' ? 'Node TLS pipe' : ep === THIS_TREE ? 'Portcullis (this tree)' : `Portcullis ${ep}`
}

/** One block of exactly `connections` connections; CPU and V8 allocations of the server around it. */
async function measureBlock(pid: number, hookDir: string, target: Target, auth: AmqpAuth, o: Options): Promise<Block> {
  const template = new ConnectTemplate(`bc${process.pid}-`)
  const before = await workSample(hookDir, pid)
  let next = 0
  let failures = 0
  let resumed = 0
  await Promise.all(Array.from({ length: o.concurrency }, async () => {
    let session: Buffer | undefined
    while (next < o.connections) {
      const serial = next++
      try {
        const opts = { ...(o.resume && session !== undefined ? { session } : {}), onSession: (t: Buffer) => { session = t } }
        const s = o.amqp ? await AmqpSession.open(target, auth, opts) : await MqttSession.open(target, template.encode(serial), opts)
        if ((s.socket as TLSSocket).isSessionReused?.() === true) resumed++
        s.close()
      } catch {
        failures++
      }
    }
  }))
  // The last closes reach the server after the last CONNACK: let them be part of the block.
  await sleep(300)
  const after = await workSample(hookDir, pid)
  return { cpuMicros: after.cpuMicros - before.cpuMicros, allocatedBytes: after.allocatedBytes - before.allocatedBytes, connections: o.connections, failures, resumed }
}

async function workSample(dir: string, pid: number): Promise<WorkSample> {
  const seen = new Set(readdirNames(dir))
  process.kill(pid, 'SIGUSR2')
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    const fresh = readdirNames(dir).filter((f) => !seen.has(f) && f.startsWith(`${pid}-`) && f.endsWith('.json'))
    const file = fresh[0]
    if (file !== undefined) return JSON.parse(readFileSync(join(dir, file), 'utf8')) as WorkSample
  }
  throw new Error(`no work sample from ${pid} (is servers/work-hook.js loaded?)`)
}

function readdirNames(dir: string): string[] {
  return readdirSync(dir)
}

/** Portcullis from `tree` (its bin/portcullis.js), configured as bench/servers/portcullis.ts does. */
async function startGateway(
  tree: string, dir: string, name: string, files: { serverCertFile: string; serverKeyFile: string }, nodeArgs: string[], env: NodeJS.ProcessEnv,
): Promise<{ server: ServerProcess; admin: AdminClient; mqttPort: number; amqpPort: number }> {
  const config = join(dir, `${name}.yaml`)
  const dataDir = join(dir, `${name}-data`)
  writeFileSync(config, stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store: { kind: 'embedded', dataDir },
    tls: { certFile: files.serverCertFile, keyFile: files.serverKeyFile },
    audit: { sinks: [{ kind: 'file', path: join(dir, `${name}-audit.jsonl`) }] },
    log: { level: 'warn' },
    workers: 1,
  }))
  const accessKeyId = 'benchroot'
  const accessKeySecret = randomBytes(24).toString('base64url')
  const server = await startPinned({
    name, core: 0, command: process.execPath,
    args: [...nodeArgs, join(tree, 'bin/portcullis.js'), 'start', '-c', config],
    cwd: dir,
    env: { ...env, PORTCULLIS_ROOT_ACCESS_KEY_ID: accessKeyId, PORTCULLIS_ROOT_ACCESS_KEY_SECRET: accessKeySecret, PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64') },
    timeoutMs: 60_000,
    ready: (text) => /admin API on \S+;/.test(text) && /listener mqtts on/.test(text) && /listener amqps on/.test(text),
  })
  const text = server.output()
  const adminUrl = /admin API on (http:\/\/\S+?);/.exec(text)?.[1] ?? ''
  const mqttPort = Number(/listener mqtts on [\d.]+:(\d+)/.exec(text)?.[1])
  const amqpPort = Number(/listener amqps on [\d.]+:(\d+)/.exec(text)?.[1])
  if (!existsSync(dataDir)) throw new Error(`${name}: no data directory`)
  return { server, admin: new AdminClient(adminUrl, accessKeyId, accessKeySecret), mqttPort, amqpPort }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function report(o: Options, results: Map<string, Block[][]>, startTimes: Map<string, number[]>): string {
  const fmt = (xs: number[], d: number): string => `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`
  const lines = [
    `${o.amqp ? 'AMQP over TLS to Open-Ok + Connection.Close' : 'MQTT mTLS'} ${o.resume ? 'resumed' : 'full'} handshake${o.amqp ? '' : ' + CONNECT/CONNACK + DISCONNECT'}, ${o.connections} connections per block, ${o.concurrency} in flight, ${o.rounds} fresh start(s) per endpoint; median (range) over the starts.`,
    '',
    '| endpoint | block | CPU µs / conn | V8 KiB allocated / conn | failures | resumed |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
  ]
  for (const [ep, runs] of results) {
    for (let b = 0; b < o.blocks; b++) {
      const blocks = runs.map((r) => r[b]).filter((x): x is Block => x !== undefined)
      lines.push(`| ${label(ep)} | ${b === 0 ? `first ${o.connections} after start` : `block ${b + 1} (warm)`} | ${fmt(blocks.map((x) => x.cpuMicros / x.connections), 0)} | ${fmt(blocks.map((x) => x.allocatedBytes / x.connections / 1024), 1)} | ${blocks.reduce((n, x) => n + x.failures, 0)} | ${blocks.reduce((n, x) => n + x.resumed, 0)} |`)
    }
  }
  for (const [ep, times] of startTimes) lines.push('', `${label(ep)}: spawn to listeners ready ${fmt(times, 0)} ms`)
  return lines.join('\n')
}

main().then(
  (code) => { process.exitCode = code },
  (e: unknown) => {
    process.stderr.write(`connect-profile: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`)
    process.exitCode = 1
  },
)

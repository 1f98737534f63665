import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { serviceAvailable, unusedPort } from '../helpers/services'

/**
 * The README's "Walk-through" run as written: its `sh walkthrough` blocks in order, in one bash
 * (the variables carry over, as in a newcomer's terminal), against the gateway its
 * `sh walkthrough-gateway` block starts, in a temporary directory laid out like a checkout
 * (package.json, bin, dist and node_modules linked to this one; certs/make-dev-pki.sh copied).
 * The only thing the test chooses is the ports (MQTT_PORT, AMQP_PORT, ADMIN_PORT, which the
 * README reads). Each block must exit 0 and the key outputs must be there: the message through
 * Mosquitto, the device and its session listed, the refusal after the revocation, the AMQP
 * round trip. When the README and the gateway diverge, this fails.
 *
 * Then the blocks of the README's other sections tagged `sh after-walkthrough` (the CA and device
 * commands, the AMQP instance with its own certificate, the amqplib and pika clients), in order, in
 * the same shell and against the same gateway, as those sections say to run them. There the README
 * writes `portcullis` for `npx portcullis` (or `node bin/portcullis.js`, README "Operating it"):
 * the test defines it as the latter, which costs less CPU per call than npx (the walk-through
 * already runs npx itself).
 */

const ROOT = join(__dirname, '..', '..')
const BLOCK_TIMEOUT_MS = 90_000
const READY_MARK = '@@walkthrough-block-done@@'

interface Block { kind: 'walkthrough' | 'walkthrough-gateway' | 'after-walkthrough'; source: string }
interface BlockRun { block: Block; index: number; out: string; err: string }

/** The fenced blocks of the README's "## Walk-through" section tagged `sh walkthrough…`, in order. */
function walkthroughBlocks(readme: string): Block[] {
  const start = readme.indexOf('\n## Walk-through\n')
  if (start < 0) return []
  const next = readme.indexOf('\n## ', start + 1)
  const section = readme.slice(start, next < 0 ? undefined : next)
  const blocks: Block[] = []
  const fence = /^```sh (walkthrough|walkthrough-gateway)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm
  for (const m of section.matchAll(fence)) blocks.push({ kind: m[1] as Block['kind'], source: m[2] ?? '' })
  return blocks
}

/** The blocks tagged `sh after-walkthrough`, anywhere in the README, in order. */
function afterWalkthroughBlocks(readme: string): Block[] {
  const fence = /^```sh after-walkthrough[ \t]*\n([\s\S]*?)^```[ \t]*$/gm
  return [...readme.matchAll(fence)].map((m) => ({ kind: 'after-walkthrough' as const, source: m[1] ?? '' }))
}

/** `portcullis` in the README's reference sections ("The examples below write `portcullis` for `npx portcullis`"). */
const PORTCULLIS_FUNCTION = 'portcullis() { node bin/portcullis.js "$@"; }\n'

// The whole file: a walk-through and the reference sections on a busy machine take longer than
// the default per-file timeout (.taprc); the root test's timeout is the file's.
t.setTimeout(600_000)

function commandMissing(name: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status !== 0
}

/** Skip loudly, or fail under PORTCULLIS_REQUIRE_SERVICES=1 (as test/helpers/services.ts does). */
function unavailable(t: tap.Test, what: string): void {
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') {
    t.fail(`${what}, and PORTCULLIS_REQUIRE_SERVICES=1 requires it`)
    return
  }
  const message = `SKIPPED: ${what}; the README walk-through test needs it (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure)`
  process.stderr.write(`\n*** ${message} ***\n`)
  t.pass('README walk-through', { skip: message })
}

/** A directory laid out like a checkout after `npm ci && npm run build`, without its state. */
function checkoutLike(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-walkthrough-'))
  for (const entry of ['package.json', 'package-lock.json', 'bin', 'dist', 'node_modules']) symlinkSync(join(ROOT, entry), join(dir, entry))
  mkdirSync(join(dir, 'certs'))
  copyFileSync(join(ROOT, 'certs', 'make-dev-pki.sh'), join(dir, 'certs', 'make-dev-pki.sh'))
  return dir
}

/** The environment of a newcomer's shell: no PORTCULLIS_* left over from the test runner. */
function shellEnv(ports: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PORTCULLIS_') && !k.startsWith('TAP')) env[k] = v
  return { ...env, ...ports }
}

/** One bash fed block after block on stdin, like a terminal; `set -e` makes a failing command end it. */
class Shell {
  private out = ''
  private err = ''
  private exited: number | null | undefined
  private waiter: (() => void) | undefined
  readonly proc: ChildProcess

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.proc = spawn('bash', ['--noprofile', '--norc'], { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    this.proc.stdout?.on('data', (d: Buffer) => { this.out += d.toString(); this.waiter?.() })
    this.proc.stderr?.on('data', (d: Buffer) => { this.err += d.toString() })
    this.proc.on('exit', (code) => { this.exited = code; this.waiter?.() })
    this.proc.stdin?.write('set -eo pipefail\n')
  }

  /** Runs `file` with `source` and answers what it printed; throws when bash ended or it timed out. */
  async run(file: string): Promise<{ out: string; err: string }> {
    const outFrom = this.out.length
    const errFrom = this.err.length
    this.proc.stdin?.write(`source ${file}\necho ${READY_MARK}\n`)
    const deadline = Date.now() + BLOCK_TIMEOUT_MS
    while (!this.out.slice(outFrom).includes(`${READY_MARK}\n`)) {
      if (this.exited !== undefined) throw new Error(`the shell ended with exit code ${String(this.exited)}`)
      if (Date.now() > deadline) throw new Error(`no end after ${BLOCK_TIMEOUT_MS} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250)
        this.waiter = () => { clearTimeout(timer); resolve() }
      })
    }
    await new Promise((r) => setTimeout(r, 50)) // let stderr written just before the mark arrive
    const out = this.out.slice(outFrom).replace(`${READY_MARK}\n`, '')
    return { out, err: this.err.slice(errFrom) }
  }

  /** Output since `from`, the background jobs' included. */
  outputSince(from: number): string { return this.out.slice(from) }
  get outputLength(): number { return this.out.length }
  get errors(): string { return this.err }
}

/** Ends a process group the test started (bash and its background jobs, or the gateway's npx). */
async function endGroup(proc: ChildProcess | undefined): Promise<void> {
  if (proc?.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) {
    signalGroup(proc, 'SIGKILL') // background jobs of an ended shell may still run
    return
  }
  const ended = new Promise<void>((resolve) => proc.once('exit', () => resolve()))
  signalGroup(proc, 'SIGTERM')
  const timer = setTimeout(() => signalGroup(proc, 'SIGKILL'), 15_000)
  await ended
  clearTimeout(timer)
  signalGroup(proc, 'SIGKILL')
}

function signalGroup(proc: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (proc?.pid === undefined) return
  try { process.kill(-proc.pid, signal) } catch { /* the group is gone */ }
}

/** `npx` in the temporary checkout records it in npm's _npx cache (a link, nothing downloaded): remove that entry. */
function forgetNpxEntry(dir: string): void {
  const cache = join(process.env.npm_config_cache ?? join(homedir(), '.npm'), '_npx')
  if (!existsSync(cache)) return
  for (const entry of readdirSync(cache)) {
    const manifest = join(cache, entry, 'package.json')
    try {
      if (readFileSync(manifest, 'utf8').includes(dir)) rmSync(join(cache, entry), { recursive: true, force: true })
    } catch { /* not an npx entry */ }
  }
}

t.test('the README walk-through blocks are found in order', async (t) => {
  const blocks = walkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  t.equal(blocks.filter((b) => b.kind === 'walkthrough-gateway').length, 1, 'exactly one gateway block')
  t.ok(blocks.filter((b) => b.kind === 'walkthrough').length >= 5, 'the steps are marked `sh walkthrough`')
  const first = blocks.findIndex((b) => b.kind === 'walkthrough-gateway')
  t.ok(first > 0 && first < blocks.length - 1, 'the gateway starts after the config and before the steps that use it')
  t.same(walkthroughBlocks('# x\n## Other\n```sh walkthrough\nfalse\n```\n'), [], 'only the Walk-through section counts')
  const after = afterWalkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  t.ok(after.some((b) => b.source.includes('ca register')) && after.some((b) => b.source.includes('import pika')), 'the CA commands and the AMQP clients are marked `sh after-walkthrough`')
  t.notOk(after.some((b) => walkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8')).some((w) => w.source === b.source)), 'no block is run twice')
})

t.test('every command of the README walk-through runs as written against a real gateway', async (t) => {
  t.setTimeout(540_000)
  if (!await serviceAvailable(t, 'mosquitto', 1883)) return
  if (!await serviceAvailable(t, 'rabbitmq', 5672)) return
  const missing = ['mosquitto_pub', 'mosquitto_sub', 'openssl', 'jq', 'curl'].filter(commandMissing)
  if (missing.length > 0) return unavailable(t, `${missing.join(', ')} not on the PATH (apt-get install -y mosquitto-clients openssl jq curl)`)
  if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'))) {
    t.fail('dist/ is not built: run `npm run build` first (the walk-through starts after `npm ci && npm run build`)')
    return
  }

  const blocks = walkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  t.ok(blocks.length > 0, 'README.md has a "## Walk-through" section with `sh walkthrough` blocks')
  const dir = checkoutLike()
  const ports = { MQTT_PORT: String(await unusedPort()), AMQP_PORT: String(await unusedPort()), ADMIN_PORT: String(await unusedPort()) }
  const env = shellEnv(ports)
  const shell = new Shell(dir, env)
  let gateway: ChildProcess | undefined
  const gatewayLog: string[] = []
  t.teardown(async () => {
    shell.proc.stdin?.end()
    await endGroup(shell.proc)
    await endGroup(gateway)
    forgetNpxEntry(dir)
    rmSync(dir, { recursive: true, force: true })
  })

  const scripts = join(dir, '.walkthrough')
  mkdirSync(scripts)
  const runs: BlockRun[] = []
  for (const [index, block] of blocks.entries()) {
    const file = join(scripts, `block-${index + 1}.sh`)
    writeFileSync(file, block.source)
    if (block.kind === 'walkthrough-gateway') {
      // "in a second terminal": its own process group, stopped at the end as Ctrl-C would.
      gateway = spawn('bash', ['-e', file], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      gateway.stdout?.on('data', (d: Buffer) => gatewayLog.push(d.toString()))
      gateway.stderr?.on('data', (d: Buffer) => gatewayLog.push(d.toString()))
      continue
    }
    const started = shell.outputLength
    try {
      const { out, err } = await shell.run(file)
      runs.push({ block, index, out, err })
      t.pass(`block ${index + 1} exits 0: ${firstLine(block.source)}`)
    } catch (e) {
      t.fail(`block ${index + 1} failed (${(e as Error).message}): ${firstLine(block.source)}`, {
        block: block.source, stdout: shell.outputSince(started), stderr: shell.errors.slice(-4000), gateway: gatewayLog.join('').slice(-4000),
      })
      return
    }
  }

  const afterBlocks = afterWalkthroughBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
  t.ok(afterBlocks.length > 0, 'README.md has `sh after-walkthrough` blocks')
  const prelude = join(scripts, 'after-prelude.sh')
  writeFileSync(prelude, PORTCULLIS_FUNCTION)
  await shell.run(prelude)
  for (const [index, block] of afterBlocks.entries()) {
    const file = join(scripts, `after-${index + 1}.sh`)
    writeFileSync(file, block.source)
    const started = shell.outputLength
    try {
      const { out, err } = await shell.run(file)
      runs.push({ block, index: blocks.length + index, out, err })
      t.pass(`after-walkthrough block ${index + 1} exits 0: ${firstLine(block.source)}`)
    } catch (e) {
      t.fail(`after-walkthrough block ${index + 1} failed (${(e as Error).message}): ${firstLine(block.source)}`, {
        block: block.source, stdout: shell.outputSince(started), stderr: shell.errors.slice(-4000), gateway: gatewayLog.join('').slice(-4000),
      })
      return
    }
  }

  const transcript = (from: BlockRun | undefined): string => runs.slice(from === undefined ? 0 : runs.indexOf(from)).map((r) => r.out).join('')
  const find = (what: string, test: (source: string) => boolean): BlockRun | undefined => {
    const run = runs.find((r) => test(r.block.source))
    t.ok(run, `the walk-through has a block that ${what}`)
    return run
  }

  const publish = find('publishes with mosquitto_pub', (s) => s.includes('mosquitto_pub') && s.includes('mosquitto_sub'))
  t.match(publish?.out ?? '', /received CONNACK \(0\)/, 'the device is admitted (CONNACK 0)')
  t.match(transcript(publish), /plant-1\/sensor-1 hello through portcullis/, 'the subscriber got the message through Mosquitto')

  const listed = find('lists devices and connections', (s) => s.includes('device list') && s.includes('connection list'))
  t.match(listed?.out ?? '', /^[0-9a-f]{64} +ACTIVE +[0-9a-f]{64} +sensor-1 .* auto$/m, 'sensor-1 is listed ACTIVE, registered on its first connection')
  t.match(listed?.out ?? '', /^\S+ +plant-1 +mqtt +127\.0\.0\.1 +sensor-1-sub +[0-9a-f]{64} /m, 'the subscriber is a live session')

  const revoked = find('revokes the device', (s) => s.includes('device revoke'))
  const after = revoked?.out ?? ''
  t.match(after, /^REVOKED$/m, 'the device is revoked')
  t.match(after, /subscriber closed by the gateway \(exit [1-9]\d*\)/, 'the live subscriber was closed')
  t.match(after, /refused \(exit [1-9]\d*\)/, 'a new connection is refused')
  t.match(revoked?.err ?? '', /Connection Refused: not authorised/, 'mosquitto_pub says why (CONNACK 5)')
  t.match(after, /device-certificate +fail +DEVICE_CERT_REVOKED/, 'explain names the rule')

  const amqp = find('runs the AMQP client', (s) => s.includes('amqplib'))
  t.match(amqp?.out ?? '', /^received: hello over AMQP through portcullis$/m, 'the AMQP client round-trips through RabbitMQ')
  t.match(amqp?.out ?? '', /^\(none\)$/m, 'no session is left')

  const cas = find('registers a CA on plant-2', (s) => s.includes('ca register') && s.includes('plant-2'))
  t.match(cas?.out ?? '', /^[0-9a-f]{64} +ACTIVE +O=Portcullis dev, CN=Portcullis dev device CA /m, 'the CA is listed ACTIVE')
  const devices = find('runs every device and CA state command', (s) => s.includes('device revoke') && s.includes('plant-2'))
  const caOut = devices?.out ?? ''
  t.match(caOut, /^subject=O ?= ?Portcullis dev, CN ?= ?sensor-2$/m, 'the downloaded device certificate is sensor-2')
  t.match(caOut, /^INACTIVE\nACTIVE\nINACTIVE\nACTIVE\nrefused \(exit 1\)\nREVOKED\n[0-9a-f]{64}$/m, 'the states change as the comments say, and the CA goes only after its device')
  t.match(devices?.err ?? '', /CA_HAS_ACTIVE_DEVICES/, 'the delete is refused while the device is ACTIVE')

  const amqpSetup = find('creates the AMQP instance from stdin with its own certificate', (s) => s.includes('instance create -f -') && s.includes('id: mq-2'))
  t.match(amqpSetup?.out ?? '', /"hostnames": \[\s*"mq-2\.example\.com"\s*\]/, 'mq-2 was created from the YAML on stdin')
  t.match(amqpSetup?.out ?? '', /"createTimestamp": \d+/, 'the static account was created')
  const amqplib = find('runs the amqplib client', (s) => s.includes("from 'amqplib'") && s.includes('mq-2.example.com'))
  t.match(amqplib?.out ?? '', /^received: hello from amqplib through portcullis$/m, 'amqplib round-trips through the gateway to RabbitMQ')
  const pika = find('runs the pika client', (s) => s.includes('import pika'))
  t.match(pika?.out ?? '', /^received: hello from pika through portcullis$/m, 'pika round-trips through the gateway to RabbitMQ')
  const disabled = find('disables the AccessKey', (s) => s.includes('access-key disable'))
  t.match(disabled?.out ?? '', /^Inactive$/m, 'the AccessKey is disabled')
})

function firstLine(source: string): string {
  return source.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'))?.slice(0, 100) ?? ''
}

/**
 * The embedded store's data directory under faults, with real gateway processes (dist/): a second
 * process on one directory is refused STORE_LOCKED naming the holder (no split brain), a lock left
 * by a killed process is taken over, and a full disk makes the store read-only — reads served,
 * writes refused, `/readyz` 503 STORE_READ_ONLY — until it can write again.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { mountTinyDisk } from '../helpers/tiny-disk'
import { writeDevPki } from '../../src/ca/pki'
import { fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'
import type { TestGateway } from '../helpers/gateway'
import type { Test } from '../helpers/services'

interface Fixture {
  dir: string
  certsDir: string
  env: Record<string, string>
  /** Starts a gateway process that is stopped (before the directory goes) at teardown. */
  start(name: string, config: Record<string, unknown>): Promise<GatewayProcess>
}

async function fixture(t: Test, label: string): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${label}-`))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const running: GatewayProcess[] = []
  t.teardown(async () => {
    await Promise.all(running.map((gw) => gw.stop()))
    rmSync(dir, { recursive: true, force: true })
  })
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTLOCKTEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'lock-test-key',
  }
  return {
    dir, certsDir, env,
    async start(name, config) {
      const gw = await startGatewayProcess({ name, dir, certsDir, redisPrefix: 'unused', env, config })
      running.push(gw)
      // A process killed by the test is not stopped again.
      gw.child.once('exit', () => { if (running.includes(gw)) running.splice(running.indexOf(gw), 1) })
      return gw
    },
  }
}

/** Enough of a TestGateway for the MQTT fixture: admin calls and clients to one process. */
function view(gw: GatewayProcess, certsDir: string): TestGateway {
  return { admin: gw.admin, mqttPort: gw.ports.mqtts, amqpPort: gw.ports.amqps, certsDir } as unknown as TestGateway
}

function embedded(dataDir: string, auditPath: string): Record<string, unknown> {
  return { store: { kind: 'embedded', dataDir }, audit: { sinks: [{ kind: 'file', path: auditPath }] } }
}

async function readyz(gw: GatewayProcess): Promise<{ status: number; code?: string }> {
  const res = await fetch(`${gw.adminUrl}/readyz`)
  const body = (await res.json()) as { code?: string }
  return { status: res.status, ...(body.code !== undefined ? { code: body.code } : {}) }
}

async function eventually<T>(probe: () => Promise<T>, ok: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (ok(value) || Date.now() > deadline) return value
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const instanceBody = (id: string): Record<string, unknown> => ({
  id, protocol: 'mqtt', hostnames: [`${id}.lock.test`], backend: { kind: 'embedded' },
})

t.test('a second gateway process on one data directory is refused STORE_LOCKED naming the holder', async (t) => {
  const f = await fixture(t, 'store-lock')
  const dataDir = join(f.dir, 'data')
  const a = await f.start('a', embedded(dataDir, join(f.dir, 'a-audit.jsonl')))
  t.equal((await a.admin('POST', '/v1/instances', instanceBody('held'))).status, 201)

  const second = f.start('b', embedded(dataDir, join(f.dir, 'b-audit.jsonl')))
  await t.rejects(second, new RegExp(`exited with 1:[\\s\\S]*STORE_LOCKED: [^\\n]*process ${a.child.pid}\\b`), 'B exits at start, naming A\'s pid')
  t.equal(a.child.exitCode, null, 'A keeps running')
  t.equal((await a.admin('GET', '/v1/instances/held')).status, 200, 'A still serves its data')

  // A killed holder leaves its lock behind; the next process sees its pid is dead and takes over.
  const gone = new Promise((resolve) => a.child.once('exit', resolve))
  a.child.kill('SIGKILL')
  await gone
  const c = await f.start('c', embedded(dataDir, join(f.dir, 'c-audit.jsonl')))
  t.equal((await c.admin('GET', '/v1/instances/held')).status, 200, 'C took the stale lock and sees A\'s writes')
})

t.test('on a full disk the embedded store serves reads, refuses writes and says not ready, until it can write', async (t) => {
  const disk = mountTinyDisk(512)
  if (disk === undefined) return void t.pass('needs a tmpfs', { skip: 'cannot mount a tmpfs here (needs root)' })
  t.teardown(() => disk.unmount())
  const f = await fixture(t, 'store-full')
  const dataDir = join(disk.dir, 'data')
  const gw1 = await f.start('full1', embedded(dataDir, join(f.dir, 'full1-audit.jsonl')))
  // An MQTT instance on the embedded broker with a device seen once: admitting it again is a read.
  const fx = await mqttFixture(view(gw1, f.certsDir), { backend: 'embedded' })
  const device = await fx.device('reader')
  await (await fx.connect(device)).endAsync()
  t.same(await readyz(gw1), { status: 200 })

  t.test('a disk that fills while running', async (t) => {
    disk.fill()
    const refused = await gw1.admin('POST', '/v1/instances', { ...instanceBody('while-full'), hostnames: Array.from({ length: 100 }, (_, i) => `${'a'.repeat(60)}${i}.full.test`) })
    t.equal(refused.status, 503)
    t.equal(refused.body.code, 'STORE_READ_ONLY', 'the write is refused with a clear code')
    t.same(await readyz(gw1), { status: 503, code: 'STORE_READ_ONLY' }, '/readyz no longer says ready')
    const client = await fixtureFor(view(gw1, f.certsDir), fx).connect(device)
    t.ok(client.connected, 'the known device is still admitted (reads are served)')
    await client.endAsync()
    disk.free()
    t.same(await eventually(() => readyz(gw1), (r) => r.status === 200, 10_000), { status: 200 }, 'ready again once the disk has room (background compaction)')
    t.equal((await gw1.admin('POST', '/v1/instances', instanceBody('after-full'))).status, 201)
    await gw1.stop() // releases the data directory for the next process
  })

  t.test('a start on a full disk (the start-up compaction cannot be written)', async (t) => {
    disk.fill()
    const gw2 = await f.start('full2', embedded(dataDir, join(f.dir, 'full2-audit.jsonl')))
    t.same(await readyz(gw2), { status: 503, code: 'STORE_READ_ONLY' }, 'started, but not ready')
    const client = await fixtureFor(view(gw2, f.certsDir), fx).connect(device)
    t.ok(client.connected, 'the device registered before is admitted from the replayed log')
    await client.endAsync()
    const refused = await gw2.admin('POST', '/v1/instances', instanceBody('refused'))
    t.equal(refused.status, 503)
    t.equal(refused.body.code, 'STORE_READ_ONLY', 'admin calls are refused with a clear code (their nonce cannot be recorded)')
    disk.free()
    t.same(await eventually(() => readyz(gw2), (r) => r.status === 200, 10_000), { status: 200 }, 'compacts later and becomes ready')
    t.equal((await gw2.admin('GET', '/v1/instances/after-full')).status, 200)
    t.equal((await gw2.admin('POST', '/v1/instances', instanceBody('later'))).status, 201)
  })
})

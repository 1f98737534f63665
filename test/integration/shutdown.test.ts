/**
 * Graceful stop of a real gateway process (dist/) on SIGTERM (DESIGN §4 `shutdown`): `/readyz`
 * 503 at once, new connections accepted for readinessDelayMs, then refused; a live MQTT 5 session
 * gets DISCONNECT 0x8B (server shutting down, MQTT 5 §3.14.2.1); exit 0 within drainTimeoutMs.
 */
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { IDisconnectPacket } from 'mqtt'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { mqttFixture } from '../helpers/mqtt-fixture'
import type { TestGateway } from '../helpers/gateway'
import { writeDevPki } from '../../src/ca/pki'
import { serviceAvailable } from '../helpers/services'

const READINESS_DELAY_MS = 2000
const DRAIN_TIMEOUT_MS = 4000

function tcpConnect(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

t.test('SIGTERM: not ready at once, accepting during readinessDelayMs, goodbyes, exit 0 within drainTimeoutMs', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-shutdown-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTSHUTDOWNTEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'shutdown-test-key',
  }
  const gw: GatewayProcess = await startGatewayProcess({
    name: 'gw', dir, certsDir, redisPrefix: 'unused', env,
    config: {
      store: { kind: 'embedded', dataDir: join(dir, 'data') },
      shutdown: { readinessDelayMs: READINESS_DELAY_MS, drainTimeoutMs: DRAIN_TIMEOUT_MS },
    },
  })
  t.teardown(async () => {
    await gw.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  const view = { admin: gw.admin, mqttPort: gw.ports.mqtts, amqpPort: gw.ports.amqps, certsDir } as unknown as TestGateway
  // Mosquitto speaks MQTT 5 (the embedded aedes broker does not).
  const fx = await mqttFixture(view)
  const client = await fx.connect(await fx.device('draining'), { protocolVersion: 5 })
  const goodbye = new Promise<IDisconnectPacket>((resolve) => client.once('disconnect', resolve))
  t.equal((await fetch(`${gw.adminUrl}/readyz`)).status, 200, 'ready before the signal')

  const exited = new Promise<{ code: number | null; at: number }>((resolve) => {
    gw.child.once('exit', (code) => resolve({ code, at: Date.now() }))
  })
  const signalled = Date.now()
  gw.child.kill('SIGTERM')

  // At once: the next probe already says 503.
  let readyz = await fetch(`${gw.adminUrl}/readyz`)
  while (readyz.status === 200 && Date.now() - signalled < 500) readyz = await fetch(`${gw.adminUrl}/readyz`)
  t.equal(readyz.status, 503, '/readyz is 503 right after SIGTERM')
  t.equal(((await readyz.json()) as { code: string }).code, 'SHUTTING_DOWN')
  t.ok(Date.now() - signalled < 1000, `within ${Date.now() - signalled} ms`)

  const late = await tcpConnect(gw.ports.mqtts as number)
  t.ok(Date.now() - signalled < READINESS_DELAY_MS, 'a new connection during readinessDelayMs is accepted')
  late.destroy()

  const packet = await goodbye
  t.equal(packet.reasonCode, 0x8b, 'the live MQTT 5 session gets DISCONNECT 0x8B (server shutting down)')
  t.ok(Date.now() - signalled >= READINESS_DELAY_MS - 100, 'goodbyes come after the readiness delay')
  await t.rejects(tcpConnect(gw.ports.mqtts as number), { code: 'ECONNREFUSED' }, 'new connections are refused once the delay is over')

  const { code, at } = await exited
  t.equal(code, 0, 'the process exits 0')
  t.ok(at - signalled <= READINESS_DELAY_MS + DRAIN_TIMEOUT_MS + 1500, `exited ${at - signalled} ms after SIGTERM (delay ${READINESS_DELAY_MS} + drain ${DRAIN_TIMEOUT_MS})`)
})

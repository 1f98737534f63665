/**
 * Issue 15: in a reconnect storm the gateway must degrade by refusing early and cheaply
 * (RATE_LIMITED before TLS), never by timing out handshakes it has already spent CPU on.
 *
 * The gateway runs in this process; the devices run in a child process (the other core), so the
 * gateway's event loop is the one the burst saturates. The handshake deadline is short (3 s) so
 * that an ordinary burst is more work than one core can finish within it: with a fixed count of
 * handshakes in flight (the wave-2 default of 1024, `handshakeAdmission: fixed`) admitted
 * handshakes pass their deadline; with `adaptive` the count follows what the process completes.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { mqttFixture } from '../helpers/mqtt-fixture'

const DEVICES = 1500
const HANDSHAKE_TIMEOUT_MS = 3000

interface Outcomes { connected: number; attempts: number; refusedBeforeTls: number; closedAfterTls: number; ms: number }

function burst(tg: TestGateway, fx: Awaited<ReturnType<typeof mqttFixture>>, device: { cert: string; key: string }): Promise<Outcomes> {
  const loader = process.execArgv.filter((arg) => arg.includes('typescript') || arg === '--enable-source-maps')
  const args = {
    port: tg.mqttPort, servername: fx.hostname, ca: fx.serverCa, cert: device.cert, key: device.key,
    devices: DEVICES, deadlineMs: 60_000, retryMaxMs: 1000,
  }
  const child = spawn(process.execPath, [...loader, join(__dirname, '../helpers/handshake-burst.ts'), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('utf8') })
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Outcomes) : reject(new Error(`burst exited ${code}: ${out}`))))
  })
}

/** Refusals by reason; a reason other than RATE_LIMITED also by its first detail, to say what it was. */
function refusals(tg: TestGateway): Map<string, number> {
  const counts = new Map<string, number>()
  for (const e of tg.events('connection.rejected')) {
    const key = e.reason === 'RATE_LIMITED' ? 'RATE_LIMITED' : `${String(e.reason)}: ${String(e.details.detail ?? e.details.stage ?? '')}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts
}

const count = (reasons: Map<string, number>, reason: string): number =>
  [...reasons].filter(([key]) => key === reason || key.startsWith(`${reason}:`)).reduce((sum, [, n]) => sum + n, 0)

async function storm(t: Test, admission: 'adaptive' | 'fixed') {
  const tg = await startTestGateway(t, {
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    config: { limits: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, handshakeAdmission: admission, maxConnections: 10_000 } },
  })
  const fx = await mqttFixture(tg)
  const device = await fx.device()
  // One connection first, so that the device's chain is verified and cached as before an outage.
  const first = await fx.connect(device)
  await first.endAsync()
  const outcomes = await burst(tg, fx, device)
  return { tg, outcomes, reasons: refusals(tg) }
}

t.test('adaptive admission: a burst one core cannot finish in time is refused before TLS, and admitted handshakes finish in time', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const { outcomes, reasons } = await storm(t, 'adaptive')
  t.comment(`adaptive: ${JSON.stringify(outcomes)}, refusals ${JSON.stringify([...reasons])}`)
  t.equal(outcomes.connected, DEVICES, 'every device got in, retrying after refusals')
  t.ok(count(reasons, 'RATE_LIMITED') > 0, 'the burst was more than the core could take: some were refused RATE_LIMITED')
  // Zero is what a quiet machine gives (and what the bench's storm measures). A machine shared with
  // other test files can take the core away after a handshake was admitted, and it slows the
  // devices' own half of the handshake as well (the gateway then waits on the client), so a few may
  // pass the deadline: 0–67 of 1,500 here under a load average of 10, against 200–6,500 with
  // `fixed` on the same burst (its comment below).
  const late = count(reasons, 'HANDSHAKE_TIMEOUT') + count(reasons, 'BACKEND_UNAVAILABLE')
  t.ok(late <= DEVICES / 20, `admitted handshakes that passed their deadline: ${late} (at most 5 % of the devices)`)
  t.ok(outcomes.closedAfterTls <= DEVICES / 20, `devices dropped after their TLS handshake was paid for: ${outcomes.closedAfterTls} (at most 5 %)`)
  // A device also sees a close before TLS when the kernel's accept queue overflows (a reset).
  t.ok(outcomes.refusedBeforeTls >= count(reasons, 'RATE_LIMITED'), 'every audited RATE_LIMITED reached its device as a close before TLS')
})

t.test('fixed admission (maxHandshakesInFlight alone), the same burst: for comparison', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const { outcomes, reasons } = await storm(t, 'fixed')
  t.comment(`fixed: ${JSON.stringify(outcomes)}, refusals ${JSON.stringify([...reasons])}`)
  t.equal(outcomes.connected, DEVICES, 'every device got in eventually')
})

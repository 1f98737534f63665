import { createServer as netServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net'
import { createServer as tlsServer, type TLSSocket } from 'node:tls'
import t from 'tap'
import { createCa, createLeaf, type KeyAndCert } from '../../src/ca/pki'
import { stormPrepare, stormPrime, stormRelease, stormRun, type StormPrepareArgs } from '../../bench/load/storm'
import { dealDevices } from '../../bench/storm-summary'

/**
 * The storm's device loop (bench/load/storm.ts) against a real mTLS endpoint in this process: a
 * TCP front that can drop the first connections (a gateway refusing early), then TLS with client
 * certificates required, then an MQTT-ish CONNECT → CONNACK with a chosen return code.
 */
interface Pki { serverCa: KeyAndCert; server: KeyAndCert; clientCa: KeyAndCert; devices: KeyAndCert[] }

let pki: Pki
t.before(async () => {
  const [serverCa, clientCa] = await Promise.all([createCa({ commonName: 'storm test server CA' }), createCa({ commonName: 'storm test client CA' })])
  const [server, ...devices] = await Promise.all([
    createLeaf({ commonName: 'storm test server', issuer: serverCa, kind: 'server', dnsNames: ['storm.test'] }),
    ...Array.from({ length: 3 }, (_, i) => createLeaf({ commonName: `storm-test-device-${i}`, issuer: clientCa, kind: 'client' })),
  ])
  pki = { serverCa, server, clientCa, devices }
})

interface Endpoint {
  port: number
  accepted: () => number
  peers: Set<string>
  close: () => Promise<void>
}

/** `dropFirst` TCP connections are closed at once; the others get TLS and `connack(n)` for their n-th CONNECT. */
async function endpoint(o: { dropFirst?: number; connack?: (n: number) => number | undefined }): Promise<Endpoint> {
  let accepted = 0
  let connects = 0
  const peers = new Set<string>()
  const open = new Set<Socket>()
  const tls = tlsServer({ cert: pki.server.cert, key: pki.server.key, ca: pki.clientCa.cert, requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
    peers.add(String(s.getPeerX509Certificate()?.subject))
    s.once('data', () => {
      const rc = o.connack === undefined ? 0 : o.connack(connects++)
      if (rc === undefined) return
      s.write(Buffer.from([0x20, 0x02, 0x00, rc]))
    })
    s.on('error', () => undefined)
  })
  const front: NetServer = netServer((socket) => {
    open.add(socket)
    socket.once('close', () => open.delete(socket))
    socket.on('error', () => undefined)
    if (accepted++ < (o.dropFirst ?? 0)) return void socket.destroy()
    tls.emit('connection', socket)
  })
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r))
  return {
    port: (front.address() as AddressInfo).port,
    accepted: () => accepted,
    peers,
    close: async () => {
      for (const s of open) s.destroy()
      await new Promise<void>((r) => front.close(() => r()))
    },
  }
}

function prepareArgs(port: number, devices: number, o: Partial<StormPrepareArgs> = {}): StormPrepareArgs {
  return {
    target: { host: '127.0.0.1', port, servername: 'storm.test', ca: pki.serverCa.cert },
    certs: pki.devices.map((d, index) => ({ index, cert: d.cert, key: d.key })),
    devices: dealDevices(devices, 1, pki.devices.length)[0] ?? [],
    clientIdPrefix: 'bstest-',
    attemptTimeoutMs: 2000,
    backoff: { baseMs: 20, capMs: 100 },
    ...o,
  }
}

const now = (): number => performance.timeOrigin + performance.now()

t.test('devices refused before TLS retry with backoff and all connect; each refusal is counted, none as a timeout', async (t) => {
  const ep = await endpoint({ dropFirst: 12 })
  t.teardown(ep.close)
  await stormPrepare(prepareArgs(ep.port, 12))
  const startAt = now() + 50
  const r = await stormRun({ startAt, deadline: startAt + 10_000 })
  t.equal(r.connected, 12)
  t.equal(r.attempts, 24, 'every device failed exactly once, then connected')
  // Dropped before a ServerHello: the client sees a close or a reset while waiting for one.
  t.same(Object.keys(r.failures).filter((k) => k !== 'closed:accept' && k !== 'reset:accept'), [], JSON.stringify(r.failures))
  t.equal(Object.values(r.failures).reduce((n, c) => n + c, 0), 12)
  t.equal(r.unfinished, 0)
  t.equal(r.connectMs.length, 12)
  t.ok(r.connectMs.every((ms, i) => ms >= (r.lastAttemptMs[i] ?? Infinity)), 'first attempt → CONNACK includes the successful attempt')
  t.same([...ep.peers].sort(), pki.devices.map((_, i) => `CN=storm-test-device-${i}`), 'the devices presented their own certificates, round-robin')
  t.same(await stormRelease(), { closed: 12 })
})

t.test('a CONNACK refusal is counted by its return code, and the device retries', async (t) => {
  const ep = await endpoint({ connack: (n) => (n < 3 ? 3 : 0) })
  t.teardown(ep.close)
  await stormPrepare(prepareArgs(ep.port, 3))
  const startAt = now() + 50
  const r = await stormRun({ startAt, deadline: startAt + 10_000 })
  t.equal(r.connected, 3)
  t.same(r.failures, { 'connack:mqtt:3': 3 })
  await stormRelease()
})

t.test('an endpoint that accepts TCP but never answers the ClientHello leaves devices waiting in phase accept, not mid-handshake', async (t) => {
  const held: Socket[] = []
  const front = netServer((s) => { held.push(s); s.on('error', () => undefined) })
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r))
  t.teardown(() => {
    for (const s of held) s.destroy()
    front.close()
  })
  await stormPrepare(prepareArgs((front.address() as AddressInfo).port, 2, { attemptTimeoutMs: 300 }))
  const startAt = now() + 50
  const r = await stormRun({ startAt, deadline: startAt + 800 })
  t.equal(r.connected, 0)
  t.ok((r.failures['timeout:accept'] ?? 0) >= 2, JSON.stringify(r.failures))
  t.same(Object.keys(r.failures), ['timeout:accept'])
  await stormRelease()
})

t.test('an endpoint that never answers CONNACK makes devices time out mid-handshake, then unfinished at the deadline', async (t) => {
  const ep = await endpoint({ connack: () => undefined })
  t.teardown(ep.close)
  await stormPrepare(prepareArgs(ep.port, 2, { attemptTimeoutMs: 300 }))
  const startAt = now() + 50
  const r = await stormRun({ startAt, deadline: startAt + 1000 })
  t.equal(r.connected, 0)
  t.equal(r.unfinished, 2)
  t.ok((r.failures['timeout:mqtt'] ?? 0) >= 2, JSON.stringify(r.failures))
  t.equal(Object.keys(r.failures).filter((k) => k !== 'timeout:mqtt').length, 0, 'nothing else went wrong')
  await stormRelease()
})

t.test('priming connects every device once and leaves none connected', async (t) => {
  const ep = await endpoint({})
  t.teardown(ep.close)
  await stormPrepare(prepareArgs(ep.port, 5))
  const primed = await stormPrime({ concurrency: 2 })
  t.same(primed, { connected: 5, failures: 0 })
  t.equal(ep.accepted(), 5)
  t.same(await stormRelease(), { closed: 0 })
})

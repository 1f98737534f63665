import t from 'tap'
import fc from 'fast-check'
import { bytes } from '../../helpers/arbitraries'
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { amqpBackend } from '../../../src/protocols/amqp/stages/backend'
import { amqpProtocol } from '../../../src/protocols/amqp/module'
import { AmqpHandshakeError, HandshakeFrames } from '../../../src/protocols/amqp/handshake-frames'
import type { AmqpHello } from '../../../src/protocols/amqp/phases'
import { FrameReader, PROTOCOL_HEADER } from '../../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethodFrame, type ConnectionMethod } from '../../../src/protocols/amqp/methods'
import type { Connected } from '../../../src/proxy/lifecycle/context'
import { ClientGone } from '../../../src/proxy/read-client'
import { REFUSAL_REASONS } from '../../../src/reasons'
import { socketPair, splitAt, writeChunks } from '../../helpers/socket-pair'
import { deadline, identified, instance, listenerConfig, settle, unhandledRejections } from '../../helpers/contexts'
import { authorizationWithoutPolicies } from '../../helpers/authorization'

/**
 * The `amqp-backend` stage (AMQP 0-9-1 §2.2.4 second half, §4.2.6 tuning) with a fake broker on
 * a second in-memory socket pair, for arbitrary broker and client bytes, chunkings and early
 * closes: within the deadline it answers `ready` or BACKEND_UNAVAILABLE / PROTOCOL_ERROR, or throws
 * only what the runner maps (ClientGone; AmqpHandshakeError → the AMQP module's refusal); it sends
 * the broker only the header and a Start-Ok with the instance's own credentials, the client only
 * the broker's Tune; and the Tune-Ok it forwards never raises the broker's limits.
 */
const RUNS = 150
const DEADLINE_MS = 40
const SETTLED_BY_MS = DEADLINE_MS + 1500
const MAX_FRAME = 4096

const u16 = fc.integer({ min: 0, max: 0xffff })
const tune = fc.record({ channelMax: u16, frameMax: fc.oneof(fc.constant(0), fc.integer({ min: 4096, max: 0xffffffff })), heartbeat: u16 })
const frame = (m: ConnectionMethod): Buffer => encodeMethodFrame(m)
function flip(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
    const copy = Buffer.from(b)
    if (copy.length > 0) copy[at % copy.length] = v
    return copy
  })
}

const brokerGood = fc.tuple(fc.constantFrom('PLAIN AMQPLAIN', 'PLAIN', 'AMQPLAIN'), tune).map(([mechanisms, t]) => Buffer.concat([
  frame({ name: 'connection.start', versionMajor: 0, versionMinor: 9, serverProperties: new Map(), mechanisms, locales: 'en_US' }),
  frame({ name: 'connection.tune', ...t }),
]))
const brokerRefuses = fc.constant(Buffer.concat([
  frame({ name: 'connection.start', versionMajor: 0, versionMinor: 9, serverProperties: new Map(), mechanisms: 'PLAIN', locales: 'en_US' }),
  frame({ name: 'connection.close', replyCode: 403, replyText: 'ACCESS_REFUSED', classId: 10, methodId: 11 }),
]))
const brokerBytes = fc.oneof({ weight: 3, arbitrary: brokerGood }, { weight: 1, arbitrary: brokerRefuses }, { weight: 1, arbitrary: flip(brokerGood) }, { weight: 1, arbitrary: bytes(40) })

const vhost = fc.stringMatching(/^[a-z/]{0,10}$/)
const clientGood = fc.tuple(tune, vhost, bytes(12)).map(([t, v, pipelined]) => Buffer.concat([
  frame({ name: 'connection.tune-ok', ...t }), frame({ name: 'connection.open', virtualHost: v, capabilities: '', insist: false }), pipelined,
]))
const clientBytes = fc.oneof({ weight: 3, arbitrary: clientGood }, { weight: 1, arbitrary: flip(clientGood) }, { weight: 1, arbitrary: bytes(40) })

function methods(buf: Buffer): ConnectionMethod[] {
  const read = new FrameReader(1 << 20).push(buf)
  assert.equal(read.kind, 'frames')
  return read.frames.map((f) => {
    const m = decodeMethod(f.payload)
    if (!m.ok || m.method.name === 'other') throw new Error('the gateway wrote an undecodable method')
    return m.method
  })
}

/** The client's bytes after its Connection.Open frame (frames walked by their size fields). */
function afterOpen(stream: Buffer): Buffer {
  for (let pos = 0; pos + 7 <= stream.length;) {
    const end = pos + 8 + stream.readUInt32BE(pos + 3)
    const m = decodeMethod(stream.subarray(pos + 7, end - 1))
    if (m.ok && m.method.name === 'connection.open') return stream.subarray(end)
    pos = end
  }
  throw new Error('no Open in the client bytes')
}

function connected(client: Socket, upstream: Socket, signal: AbortSignal): Connected<AmqpHello> {
  const hello: AmqpHello = {
    frames: new HandshakeFrames(client, signal, 'client', MAX_FRAME),
    clientProperties: new Map(),
    subject: { instanceId: 'mq-1', accessKeyId: 'LTAI-x', kind: 'dynamic', username: 'u' } as AmqpHello['subject'],
  }
  const target = instance({ id: 'mq-1', protocol: 'amqp', backend: { kind: 'tcp', host: '127.0.0.1', port: 1, username: 'backend-user', password: 'backend-pass' } } as never)
  return { ...identified(client, hello, { instance: target, listener: listenerConfig({ protocol: 'amqp', tls: false }), signal }), phase: 'connected', upstream }
}

t.test('answers ready or a refusal within the deadline; writes only the handshake; the forwarded Tune-Ok never raises the broker\'s limits', async (t) => {
  const rejections = unhandledRejections()
  t.teardown(rejections.stop)
  const seen = new Set<string>()
  const cuts = fc.array(fc.nat(), { maxLength: 6 })
  await fc.assert(fc.asyncProperty(brokerBytes, cuts, fc.boolean(), clientBytes, cuts, fc.boolean(), async (fromBroker, brokerCuts, brokerCloses, fromClient, clientCuts, clientCloses) => {
    const client = socketPair()
    const broker = socketPair()
    const clock = deadline(DEADLINE_MS)
    const writing = Promise.all([writeChunks(broker.peer, splitAt(fromBroker, brokerCuts), brokerCloses), writeChunks(client.peer, splitAt(fromClient, clientCuts), clientCloses)])
    const out = await settle(() => amqpBackend(connected(client.gateway, broker.gateway, clock.signal), { config: { limits: { maxHandshakeFrameBytes: MAX_FRAME } }, authorization: authorizationWithoutPolicies() } as unknown as Parameters<typeof amqpBackend>[1]))
    await writing
    clock.clear()
    assert.ok(out.ms < SETTLED_BY_MS, `settled after ${out.ms} ms`)

    // To the broker: our header, then at most one Start-Ok, PLAIN, with the instance's credentials.
    const toBroker = broker.written()
    assert.deepEqual(toBroker.subarray(0, 8), PROTOCOL_HEADER)
    const sentBroker = methods(toBroker.subarray(8))
    assert.ok(sentBroker.length <= 1)
    for (const m of sentBroker) {
      assert.ok(m.name === 'connection.start-ok' && m.mechanism === 'PLAIN')
      assert.deepEqual(m.response, Buffer.from('\u0000backend-user\u0000backend-pass'))
    }
    // To the client: at most the broker's Tune.
    const sentClient = methods(client.written())
    assert.ok(sentClient.length <= 1 && sentClient.every((m) => m.name === 'connection.tune'))

    if (out.error !== undefined) {
      if (out.error instanceof ClientGone) {
        seen.add(`gone:${out.error.peer}:${out.error.why}`)
        return
      }
      assert.ok(out.error instanceof AmqpHandshakeError, `threw ${String(out.error)}`)
      const mapped = amqpProtocol.stageError(out.error, 'amqp-backend')
      assert.ok(mapped !== undefined && REFUSAL_REASONS.includes(mapped.reason))
      assert.equal(mapped.reason, out.error.peer === 'backend' ? 'BACKEND_UNAVAILABLE' : 'PROTOCOL_ERROR')
      seen.add(`framing:${out.error.peer}`)
      return
    }
    const step = out.step!
    if (step.kind === 'reject') {
      assert.ok(step.reason === 'BACKEND_UNAVAILABLE' || step.reason === 'PROTOCOL_ERROR', step.reason)
      if (step.reply !== undefined) assert.deepEqual(methods(step.reply).map((m) => m.name), ['connection.close'])
      seen.add(step.reason)
      return
    }
    seen.add('ready')
    const [brokerTune] = sentClient
    assert.ok(brokerTune?.name === 'connection.tune')
    const [tuneOk, open] = methods(Buffer.concat(step.ctx.upstreamPreamble))
    assert.ok(tuneOk?.name === 'connection.tune-ok' && open?.name === 'connection.open')
    for (const key of ['channelMax', 'frameMax'] as const) {
      if (brokerTune[key] !== 0) assert.ok(tuneOk[key] !== 0 && tuneOk[key] <= brokerTune[key], `${key} ${tuneOk[key]} raised past the broker's ${brokerTune[key]}`)
    }
    // What the client pipelined after Open is handed on verbatim, into the session's stream.
    const pipelined = Buffer.concat(step.ctx.clientPipelined)
    assert.deepEqual(pipelined, afterOpen(fromClient).subarray(0, pipelined.length))
  }), { numRuns: RUNS })
  t.equal(rejections.count(), 0, 'no unhandled rejection')
  t.ok(seen.has('ready') && seen.has('BACKEND_UNAVAILABLE'), `outcomes ${[...seen].join(', ')}`)
})

t.test('a client Open whose virtual host is not UTF-8 is a protocol error of the client, not a crash of the stage', async (t) => {
  const client = socketPair()
  const broker = socketPair()
  const clock = deadline(2000)
  t.teardown(clock.clear)
  broker.peer.write(Buffer.concat([
    frame({ name: 'connection.start', versionMajor: 0, versionMinor: 9, serverProperties: new Map(), mechanisms: 'PLAIN', locales: 'en_US' }),
    frame({ name: 'connection.tune', channelMax: 0, frameMax: 131072, heartbeat: 60 }),
  ]))
  const open = Buffer.concat([Buffer.from([0, 10, 0, 40, 255]), Buffer.alloc(255, 0xff), Buffer.from([0, 0])])
  const openFrame = Buffer.concat([Buffer.from([1, 0, 0]), Buffer.from([0, 0, (open.length >> 8) & 0xff, open.length & 0xff]), open, Buffer.from([0xce])])
  client.peer.write(Buffer.concat([frame({ name: 'connection.tune-ok', channelMax: 0, frameMax: 131072, heartbeat: 60 }), openFrame]))
  const out = await settle(() => amqpBackend(connected(client.gateway, broker.gateway, clock.signal), { config: { limits: { maxHandshakeFrameBytes: MAX_FRAME } }, authorization: authorizationWithoutPolicies() } as unknown as Parameters<typeof amqpBackend>[1]))
  // Malformed client frames surface as AmqpHandshakeError, which the AMQP module's stageError
  // turns into a Connection.Close; before, this was a RangeError from re-encoding the Open.
  t.ok(out.error instanceof AmqpHandshakeError, `an AMQP handshake error (got ${String(out.error)})`)
  t.equal((out.error as AmqpHandshakeError | undefined)?.peer, 'client')
  t.match(amqpProtocol.stageError(out.error, 'amqp-backend'), { kind: 'reject', reason: 'PROTOCOL_ERROR' })
})

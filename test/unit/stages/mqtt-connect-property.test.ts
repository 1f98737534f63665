import t from 'tap'
import fc from 'fast-check'
import { bytes } from '../../helpers/arbitraries'
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import { mqttConnect } from '../../../src/protocols/mqtt/stages/connect'
import { ConnectReader } from '../../../src/protocols/mqtt/connect-decoder'
import type { DeviceKnown } from '../../../src/protocols/mqtt/phases'
import { ClientGone } from '../../../src/proxy/read-client'
import { REFUSAL_REASONS } from '../../../src/reasons'
import type { CaRecord, DeviceRecord } from '../../../src/store/records'
import { socketPair, splitAt, writeChunks } from '../../helpers/socket-pair'
import { deadline, instance, secured, settle, unhandledRejections } from '../../helpers/contexts'

/**
 * The `mqtt-connect` stage over an in-memory socket pair, for arbitrary client bytes, chunkings,
 * early closes and caps: within the deadline it answers `identified` or PROTOCOL_ERROR (or the
 * ClientGone the runner turns into a refusal); it writes nothing itself, and its reply is at most
 * one CONNACK; it admits exactly what the capped decoder accepts on the whole input, never more
 * than `maxConnectBytes`, and hands on the pipelined bytes after the CONNECT.
 */
const RUNS = 150
const DEADLINE_MS = 30
const SETTLED_BY_MS = DEADLINE_MS + 1500
/** A CONNACK: fixed header, flags, reason, and in MQTT 5 a short reason string property. */
const MAX_REPLY = 300

const ca = { id: 'ca-1' } as CaRecord
const device = { id: 'dev-1', status: 'ACTIVE' } as DeviceRecord

const connect = fc.record({
  version: fc.constantFrom(3 as const, 4 as const, 5 as const),
  clientId: fc.stringMatching(/^[a-z0-9-]{0,20}$/),
  username: fc.option(fc.stringMatching(/^[a-z]{0,10}$/), { nil: undefined }),
  will: fc.option(bytes(300), { nil: undefined }),
}).map(({ version, clientId, username, will }) => mqttPacket.generate({
  cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version, clientId: clientId || 'c', clean: true, keepalive: 30,
  ...(username !== undefined ? { username } : {}),
  ...(will !== undefined ? { will: { topic: 'w', payload: will, qos: 0, retain: false } } : {}),
}))
const flipped = fc.tuple(connect, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 })).map(([c, edits]) => {
  const copy = Buffer.from(c)
  for (const [at, v] of edits) copy[at % copy.length] = v
  return copy
})
const clientBytes = fc.tuple(fc.oneof(bytes(60), connect, flipped, bytes(40).map((b) => Buffer.concat([Buffer.from([0x10]), b]))), bytes(10))
  .map(([a, b]) => Buffer.concat([a, b]))

function deviceKnown(socket: Parameters<typeof secured>[0], signal: AbortSignal): DeviceKnown {
  return { ...secured(socket, { instance: instance(), signal }), phase: 'mqtt-device-known', instance: instance(), peerChain: [], ca, device }
}

t.test('answers identified or PROTOCOL_ERROR within the deadline, with at most a CONNACK, admitting only what the capped decoder accepts', async (t) => {
  const rejections = unhandledRejections()
  t.teardown(rejections.stop)
  const seen = new Set<string>()
  await fc.assert(fc.asyncProperty(clientBytes, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), fc.integer({ min: 8, max: 512 }), async (input, cuts, close, maxConnectBytes) => {
    const { gateway, peer, written } = socketPair()
    const clock = deadline(DEADLINE_MS)
    const writing = writeChunks(peer, splitAt(input, cuts), close)
    const out = await settle(() => mqttConnect(deviceKnown(gateway, clock.signal), { config: { limits: { maxConnectBytes } } } as Parameters<typeof mqttConnect>[1]))
    await writing
    clock.clear()
    assert.ok(out.ms < SETTLED_BY_MS, `settled after ${out.ms} ms`)
    assert.equal(written().length, 0, 'the stage writes nothing; its reply goes through the runner')
    const whole = new ConnectReader(maxConnectBytes).push(input)
    if (out.error !== undefined) {
      assert.ok(out.error instanceof ClientGone, `threw ${String(out.error)}`)
      assert.equal(whole.kind, 'need-more', 'gave up only on a CONNECT still incomplete')
      seen.add(`gone:${out.error.why}`)
      return
    }
    const step = out.step!
    if (step.kind === 'reject') {
      assert.ok(REFUSAL_REASONS.includes(step.reason))
      assert.equal(step.reason, 'PROTOCOL_ERROR')
      assert.equal(whole.kind, 'error')
      if (step.reply !== undefined) {
        assert.equal(step.reply[0], 0x20, 'the reply is a CONNACK')
        assert.ok(step.reply.length <= MAX_REPLY)
      }
      assert.deepEqual(step.actor, { deviceId: 'dev-1' })
      seen.add('reject')
      return
    }
    seen.add('next')
    assert.equal(whole.kind, 'connect')
    const { hello } = step.ctx
    assert.ok(hello.raw.length <= maxConnectBytes)
    assert.deepEqual(Buffer.concat([hello.raw, hello.rest]), input.subarray(0, hello.raw.length + hello.rest.length), 'raw + rest is the input, in order')
    assert.equal(step.ctx.identity.clientId, hello.connect.clientId)
    assert.equal(step.ctx.identity.deviceId, 'dev-1')
  }), { numRuns: RUNS })
  t.equal(rejections.count(), 0, 'no unhandled rejection')
  t.ok(seen.has('next') && seen.has('reject'), `outcomes ${[...seen].join(', ')}`)
})

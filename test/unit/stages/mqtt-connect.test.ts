import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { mqttConnect } from '../../../src/protocols/mqtt/stages/connect'
import type { DeviceKnown } from '../../../src/protocols/mqtt/phases'
import type { CaRecord, DeviceRecord } from '../../../src/store/records'
import { socketPair } from '../../helpers/socket-pair'
import { instance, secured } from '../../helpers/contexts'

const deps = { config: { limits: { maxConnectBytes: 1024 } } } as Parameters<typeof mqttConnect>[1]
const ca = { id: 'ca-1' } as CaRecord
const device = { id: 'dev-1', status: 'ACTIVE' } as DeviceRecord

function deviceKnown(socket: Parameters<typeof secured>[0]): DeviceKnown {
  return { ...secured(socket, { instance: instance() }), phase: 'mqtt-device-known', instance: instance(), peerChain: [], ca, device }
}

function connect(clientId: string, protocolVersion: 4 | 5, extra: Partial<mqttPacket.IConnectPacket> = {}): Buffer {
  return mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean: true, keepalive: 30, ...extra })
}

t.test('a CONNECT identifies the device by certificate and clientId; pipelined bytes are kept for the broker', async (t) => {
  const { gateway, peer } = socketPair()
  const publish = mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: 'hi', qos: 0, dup: false, retain: false })
  peer.write(Buffer.concat([connect('sensor-7', 5, { username: 'u1' }), publish]))
  const step = await mqttConnect(deviceKnown(gateway), deps)
  if (step.kind !== 'next') throw new Error(`refused: ${step.reason}`)
  t.equal(step.ctx.phase, 'identified')
  t.same(step.ctx.identity, { caId: 'ca-1', deviceId: 'dev-1', clientId: 'sensor-7', username: 'u1' })
  t.same(step.ctx.actor, { deviceId: 'dev-1', clientId: 'sensor-7', username: 'u1' })
  t.equal(step.ctx.hello.connect.protocolVersion, 5)
  t.same(step.ctx.hello.rest, publish, 'the PUBLISH sent right after CONNECT is forwarded after it')
  t.notOk('peerChain' in step.ctx, 'the certificate chain is not carried past identification')
})

t.test('a CONNECT declaring more than maxConnectBytes is refused with a CONNACK in its version before it is buffered', async (t) => {
  const { gateway, peer } = socketPair()
  const big = connect('big', 5, { will: { topic: 'w', payload: Buffer.alloc(4096), qos: 0, retain: false } })
  peer.write(big.subarray(0, 16))
  const step = await mqttConnect(deviceKnown(gateway), deps)
  if (step.kind !== 'reject') throw new Error('admitted')
  t.equal(step.reason, 'PROTOCOL_ERROR')
  t.equal(step.reply?.[0], 0x20, 'a CONNACK')
  t.equal(step.reply?.[3], 0x95, 'MQTT 5 reason 0x95 packet too large')
  t.same(step.actor, { deviceId: 'dev-1' }, 'the audit event still names the device')
})

t.test('a first packet that is not a CONNECT is a protocol error', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(mqttPacket.generate({ cmd: 'pingreq' }))
  const step = await mqttConnect(deviceKnown(gateway), deps)
  t.equal(step.kind === 'reject' ? step.reason : step.kind, 'PROTOCOL_ERROR')
})

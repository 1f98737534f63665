import t from 'tap'
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket } from 'mqtt-packet'
import { ConnectReader } from '../../src/protocols/mqtt/connect-decoder'
import { encodeConnect } from '../../src/protocols/mqtt/connect-encoder'
import { bytes } from './fixture-bytes'
import { mqttPacketOf } from './mqtt-packet-of'

/** mqtt-packet's object for a CONNECT the decoder accepts: what forward.ts re-encodes. */
function decode(input: Buffer): IConnectPacket {
  const result = new ConnectReader(65536).push(input)
  if (result.kind !== 'connect') throw new Error(`fixture does not decode: ${JSON.stringify(result)}`)
  return mqttPacketOf(result.packet)
}

const V5_FULL: IConnectPacket = {
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clean: true,
  clientId: 'sensor-7',
  keepalive: 45,
  username: 'client-user',
  password: Buffer.from('client-pass'),
  will: { topic: 'lwt', payload: Buffer.from('bye'), qos: 1, retain: false, properties: { messageExpiryInterval: 60 } },
  properties: { sessionExpiryInterval: 300, userProperties: { region: 'eu' } },
}

t.test('round trip: decode then encode without overrides reproduces the bytes', async (t) => {
  const fixtures = [
    mqttPacket.generate(V5_FULL),
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', keepalive: 10, clean: true, username: 'u', password: Buffer.from('p') }),
    mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'c31', keepalive: 0, clean: false }),
  ]
  for (const input of fixtures) {
    t.same(encodeConnect(decode(input), {}), input, `version ${decode(input).protocolVersion}`)
  }
})

t.test('replaces user name and password and keeps everything else (5.0)', async (t) => {
  const original = decode(mqttPacket.generate(V5_FULL))
  const out = decode(encodeConnect(original, { username: 'backend', password: Buffer.from('secret') }))
  t.equal(out.username, 'backend')
  t.same(out.password, Buffer.from('secret'))
  t.equal(out.protocolVersion, 5)
  t.equal(out.clientId, 'sensor-7')
  t.equal(out.keepalive, 45)
  t.same(out.properties, V5_FULL.properties)
  t.same(out.will?.properties, { messageExpiryInterval: 60 })
  t.same(out.will?.payload, Buffer.from('bye'))
})

t.test('null removes a field; the flags follow', async (t) => {
  const original = decode(mqttPacket.generate(V5_FULL))
  const out = encodeConnect(original, { username: null, password: null })
  const decoded = decode(out)
  t.equal(decoded.username, undefined)
  t.equal(decoded.password, undefined)
  t.equal(out[12]! & 0xc0, 0, 'user name and password flags cleared') // 10 len 00 04 MQTT 05 [flags]
})

t.test('sets a user name on a CONNECT that had none (3.1.1)', async (t) => {
  const input = bytes(0x10, 0x0d, 0x00, 0x04, 'MQTT', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x01, 'c')
  const out = encodeConnect(decode(input), { username: 'CN=device-1' })
  t.same(
    out,
    bytes(
      0x10, 0x1a, //                       remaining length 26
      0x00, 0x04, 'MQTT', 0x04,
      0x82, //                              user name | clean
      0x00, 0x3c,
      0x00, 0x01, 'c',
      0x00, 0x0b, 'CN=device-1',
    ),
  )
})

t.test('5.0 password without user name is encoded although mqtt-packet cannot', async (t) => {
  const original = decode(mqttPacket.generate(V5_FULL))
  const out = encodeConnect(original, { username: null })
  const decoded = decode(out)
  t.equal(decoded.username, undefined)
  t.same(decoded.password, Buffer.from('client-pass'))
  t.same(decoded.properties, V5_FULL.properties)
  t.equal(decoded.will?.topic, 'lwt')
})

t.test('refuses what would not be a valid CONNECT', async (t) => {
  const v4 = decode(mqttPacket.generate({ cmd: 'connect', protocolVersion: 4, clientId: 'c', username: 'u', password: Buffer.from('p') }))
  t.throws(() => encodeConnect(v4, { username: null }), { code: 'VALIDATION_FAILED' }, '3.1.1 password alone')
  t.throws(() => encodeConnect(v4, { username: 'x'.repeat(70000) }), { code: 'VALIDATION_FAILED' }, 'user name > 65535')
})

import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { encodeConnack, encodeDisconnect } from '../../src/protocols/mqtt/connack'
import type { ConnackRefusal } from '../../src/protocols/mqtt/connack'
import { connackFor, connackRefusalFor, disconnectFor, disconnectReasonFor } from '../../src/protocols/mqtt/mqtt-reasons'
import { KICK_REASONS, REFUSAL_REASONS } from '../../src/reasons'
import { bytes } from './fixture-bytes'

// [refusal, 3.x return code (undefined = close), 5.0 reason code]
const TABLE: ReadonlyArray<readonly [ConnackRefusal, number | undefined, number]> = [
  ['UNSUPPORTED_VERSION', 0x01, 0x84],
  ['CLIENT_ID_REJECTED', 0x02, 0x85],
  ['SERVER_UNAVAILABLE', 0x03, 0x88],
  ['BAD_CREDENTIALS', 0x04, 0x86],
  ['NOT_AUTHORIZED', 0x05, 0x87],
  ['BANNED', 0x05, 0x8a],
  ['PROTOCOL_ERROR', undefined, 0x81],
  ['PACKET_TOO_LARGE', undefined, 0x95],
]

t.test('CONNACK codes per version ([MQTT-3.2.2.3], MQTT 5 §3.2.2.2)', async (t) => {
  for (const [refusal, v3, v5] of TABLE) {
    for (const version of [3, 4] as const) {
      const expected = v3 === undefined ? undefined : bytes(0x20, 0x02, 0x00, v3) // CONNACK, len 2, no session, code
      t.same(encodeConnack(version, refusal), expected, `${refusal} in ${version}`)
    }
    t.same(encodeConnack(5, refusal), bytes(0x20, 0x03, 0x00, v5, 0x00), `${refusal} in 5.0`) // + empty properties
  }
})

t.test('MQTT 5 CONNACK carries a Reason String property that mqtt-packet decodes', async (t) => {
  const out = encodeConnack(5, 'NOT_AUTHORIZED', 'CA_INACTIVE')
  t.same(
    out,
    bytes(
      0x20, 0x11, //               CONNACK, remaining length 17
      0x00, 0x87, //               no session, not authorized
      0x0e, //                     properties length 14
      0x1f, 0x00, 0x0b, 'CA_INACTIVE', // 0x1F Reason String
    ),
  )
  const parser = mqttPacket.parser({ protocolVersion: 5 })
  const seen: unknown[] = []
  parser.on('packet', (p) => seen.push(p))
  parser.parse(out!)
  t.match(seen[0], { cmd: 'connack', reasonCode: 0x87, properties: { reasonString: 'CA_INACTIVE' } })
  t.same(encodeConnack(4, 'NOT_AUTHORIZED', 'CA_INACTIVE'), bytes(0x20, 0x02, 0x00, 0x05), 'no reason string in 3.1.1')
})

t.test('drops the Reason String when it would exceed the client Maximum Packet Size [MQTT-3.2.2-19]', async (t) => {
  t.same(encodeConnack(5, 'BANNED', 'a long explanation', 10), bytes(0x20, 0x03, 0x00, 0x8a, 0x00))
  const long = encodeConnack(5, 'BANNED', 'é'.repeat(1000))!
  t.ok(long.length < 300, 'reason string capped to 256 octets')
})

t.test('server DISCONNECT exists only in MQTT 5', async (t) => {
  t.same(encodeDisconnect(5, 0x98), bytes(0xe0, 0x02, 0x98, 0x00)) // DISCONNECT, administrative action, no props
  t.same(encodeDisconnect(5, 0x8b, 'bye'), bytes(0xe0, 0x08, 0x8b, 0x06, 0x1f, 0x00, 0x03, 'bye'))
  t.equal(encodeDisconnect(4, 0x87), undefined)
  t.equal(encodeDisconnect(3, 0x87), undefined)
})

t.test('maps every refusal reason to a CONNACK or to a plain close', async (t) => {
  const expected: Record<string, ConnackRefusal | undefined> = {
    BAD_CREDENTIALS: 'BAD_CREDENTIALS',
    CREDENTIAL_EXPIRED: 'BAD_CREDENTIALS',
    BLACKLISTED: 'BANNED',
    BACKEND_UNAVAILABLE: 'SERVER_UNAVAILABLE',
    PROTOCOL_ERROR: 'PROTOCOL_ERROR',
    HANDSHAKE_TIMEOUT: undefined,
    CA_INACTIVE: 'NOT_AUTHORIZED',
    DEVICE_CERT_REVOKED: 'NOT_AUTHORIZED',
    TUNNEL_DENIED: 'NOT_AUTHORIZED',
  }
  for (const reason of REFUSAL_REASONS) {
    const refusal = connackRefusalFor(reason)
    if (reason in expected) t.equal(refusal, expected[reason], reason)
  }
  t.same(connackFor(4, 'BLACKLISTED'), bytes(0x20, 0x02, 0x00, 0x05), 'blacklisted 3.1.1 → 0x05')
  t.same(connackFor(5, 'BLACKLISTED'), bytes(0x20, 0x03, 0x00, 0x8a, 0x00), 'blacklisted 5.0 → 0x8A')
  t.same(connackFor(4, 'BAD_CREDENTIALS'), bytes(0x20, 0x02, 0x00, 0x04))
  t.same(connackFor(5, 'BACKEND_UNAVAILABLE'), bytes(0x20, 0x03, 0x00, 0x88, 0x00))
  t.equal(connackFor(4, 'PROTOCOL_ERROR'), undefined, '3.1.1 protocol error: close without CONNACK')
  t.same(connackFor(5, 'PROTOCOL_ERROR'), bytes(0x20, 0x03, 0x00, 0x81, 0x00))
})

t.test('maps every kick reason to an MQTT 5 DISCONNECT reason', async (t) => {
  for (const reason of KICK_REASONS) t.ok([0x87, 0x89, 0x8b, 0x98].includes(disconnectReasonFor(reason)), reason)
  t.equal(disconnectReasonFor('RECHECK_FAILED'), 0x89, 'a session whose re-check could not be made may come back: server busy')
  t.equal(disconnectReasonFor('SHUTDOWN'), 0x8b)
  t.equal(disconnectReasonFor('ADMIN_KICK'), 0x98)
  t.equal(disconnectReasonFor('CA_DEACTIVATED'), 0x87)
  t.equal(disconnectFor(4, 'SHUTDOWN'), undefined)
})

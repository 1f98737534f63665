/**
 * Re-encodes a decoded CONNECT with the user name and/or password replaced or removed, keeping
 * everything else (protocol name and level, bridge bit, flags, keepalive, properties, will).
 *
 *  +------+---------+-- variable header --+-- payload ----------------------------------+
 *  | 0x10 | rem.len | name level FLAGS ka | client id | will ... | USERNAME | PASSWORD |
 *  +------+---------+---------------------+-----------------------------------------------+
 *                               ^ bits 7/6 follow the fields (MQTT 5 §3.1.2.8-9)
 *
 * mqtt-packet 9 refuses to generate a password without a user name, which 3.1.1 forbids
 * [MQTT-3.1.2-22] but MQTT 5 allows (§3.1.2.9). Because the password is the last field of the
 * packet, that case is encoded here by appending it to a CONNECT generated without one.
 */
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket } from 'mqtt-packet'
import { PortcullisError } from '../../errors'
import { encodeVarByteInt, readVarByteInt } from './var-byte-int'

export interface CredentialOverrides {
  /** undefined = keep, null = remove, string = replace. */
  readonly username?: string | null
  readonly password?: Buffer | null
}

/** Username and password are Two Byte Integer length-prefixed (MQTT 5 §1.5.4, §1.5.6). */
const MAX_FIELD_BYTES = 0xffff
const FLAG_PASSWORD = 0x40

/**
 * Throws PortcullisError VALIDATION_FAILED when the result would not be a valid CONNECT (a field
 * over 65535 bytes; a password without a user name before MQTT 5).
 */
export function encodeConnect(packet: IConnectPacket, overrides: CredentialOverrides): Buffer {
  const username = pick(overrides.username, packet.username)
  const password = pick(overrides.password, packet.password)
  if (username !== undefined && Buffer.byteLength(username) > MAX_FIELD_BYTES) {
    throw new PortcullisError('VALIDATION_FAILED', 'MQTT user name longer than 65535 bytes')
  }
  if (password !== undefined && password.length > MAX_FIELD_BYTES) {
    throw new PortcullisError('VALIDATION_FAILED', 'MQTT password longer than 65535 bytes')
  }
  const base: IConnectPacket = { ...packet }
  delete base.username
  delete base.password
  if (username !== undefined) base.username = username
  if (password === undefined) return generate(base)
  if (username !== undefined) return generate({ ...base, password })
  if (packet.protocolVersion !== 5) {
    throw new PortcullisError('VALIDATION_FAILED', 'MQTT 3.x CONNECT cannot carry a password without a user name')
  }
  return appendPassword(generate(base), password)
}

function pick<T>(override: T | null | undefined, current: T | undefined): T | undefined {
  if (override === null) return undefined
  return override ?? current
}

function generate(packet: IConnectPacket): Buffer {
  try {
    return mqttPacket.generate(packet)
  } catch (err) {
    throw new PortcullisError('VALIDATION_FAILED', 'CONNECT cannot be encoded', { cause: err })
  }
}

function appendPassword(connect: Buffer, password: Buffer): Buffer {
  const length = readVarByteInt(connect, 1)
  if (length.kind !== 'ok') throw new PortcullisError('INTERNAL', 'generated CONNECT has no remaining length')
  const body = Buffer.from(connect.subarray(1 + length.length))
  const nameLength = body.readUInt16BE(0)
  const flagsAt = 2 + nameLength + 1 // after protocol name and level
  body.writeUInt8((body[flagsAt] ?? 0) | FLAG_PASSWORD, flagsAt)
  const field = Buffer.alloc(2 + password.length)
  field.writeUInt16BE(password.length, 0)
  password.copy(field, 2)
  const newBody = Buffer.concat([body, field])
  return Buffer.concat([Buffer.from([0x10]), encodeVarByteInt(newBody.length), newBody])
}

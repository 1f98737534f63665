import { performance } from 'node:perf_hooks'
import type { IConnectPacket } from 'mqtt-packet'
import { buildAuditEvent } from '../audit/build-event'
import type { AuditInput } from '../audit/event'
import { GENESIS_PREV } from '../audit/event'
import { toJsonLines } from '../audit/sinks/sink'
import { BlacklistIndex } from '../policy/blacklist'
import { tunnelAdmits } from '../policy/tunnel'
import { FrameReader, encodeFrame, FRAME_TYPES } from '../protocols/amqp/frame-codec'
import { decodeMethod, encodeMethodFrame, parsePlainResponse } from '../protocols/amqp/methods'
import { ConnectReader } from '../protocols/mqtt/connect-decoder'
import { encodeConnect } from '../protocols/mqtt/connect-encoder'
import { connackFor, connackForKick, disconnectFor } from '../protocols/mqtt/mqtt-reasons'
import { MqttPacketBoundary } from '../protocols/mqtt/packet-boundary'
import { deviceIdOf, deviceStateRefusal, firstSeenStatus } from '../protocols/mqtt/stages/device-certificate'
import { blacklistSubject } from '../proxy/session-subject'
import type { KickReason, RefusalReason } from '../reasons'

/**
 * V8 warm-up of the connection path (issue 15). The code a connection runs is called once per
 * connection, so V8 leaves it in its interpreter and baseline tiers for thousands of connections
 * (docs/benchmarks.md "Where the time and memory go"): the first connections after a start — a
 * reconnect storm after a deploy is exactly those — pay for it. At start, before the listeners
 * accept anything, this runs the pure per-connection code on synthetic inputs, often enough that
 * V8 gathers its type feedback and optimises it: CONNECT decoding and re-encoding, CONNACK and
 * DISCONNECT encoding, the device certificate's pure checks, the blacklist and tunnel rules, the
 * audit event's building (redaction, canonical JSON, chain hash) and its JSON line, and the AMQP
 * frame codec and handshake methods.
 *
 * It writes nothing anywhere: no socket, no store, no audit (events are built and dropped; the
 * chain is not advanced), no metric. Everything it calls is the production code itself.
 */
export interface WarmupResult {
  readonly rounds: number
  readonly ms: number
}

/**
 * Rounds at start. Measured on the reference machine (CPU per round, 250-round steps): about
 * 900 µs per round at first, 180 µs from about 2,000 rounds on, where it stops falling.
 */
export const DEFAULT_WARMUP_ROUNDS = 2000

/** The most a start waits for it (ms of wall time); a loaded machine stops it early. */
export const DEFAULT_WARMUP_BUDGET_MS = 750

export function warmConnectionPath(rounds = DEFAULT_WARMUP_ROUNDS, budgetMs = DEFAULT_WARMUP_BUDGET_MS): WarmupResult {
  const started = performance.now()
  const inputs = syntheticInputs()
  let sink = 0
  let done = 0
  for (; done < rounds; done++) {
    sink += mqttRound(inputs, done) + amqpRound(inputs) + auditRound(inputs, done) + rulesRound(inputs, done)
    // A slow machine (or a debugger) must not hold the start for long: the warm-up is a nicety.
    if ((done & 63) === 63 && performance.now() - started > budgetMs) {
      done++
      break
    }
  }
  // Keeps the results observable so that no call is optimised away.
  if (sink === -1) throw new Error('unreachable')
  return { rounds: done, ms: performance.now() - started }
}

interface Inputs {
  connects: Buffer[]
  connectPackets: IConnectPacket[]
  brokerStream: Buffer
  amqp: { header: Buffer; startOk: Buffer; tuneOk: Buffer; open: Buffer }
  audit: AuditInput[]
  blacklist: BlacklistIndex
  fingerprint: string
}

const REFUSALS: readonly RefusalReason[] = ['CLIENT_CERT_UNTRUSTED', 'DEVICE_CERT_REVOKED', 'BLACKLISTED', 'NOT_AUTHORIZED', 'BACKEND_UNAVAILABLE', 'PROTOCOL_ERROR']
const KICKS: readonly KickReason[] = ['CA_DEACTIVATED', 'DEVICE_CERT_REVOKED', 'ADMIN_KICK', 'SHUTDOWN']

function syntheticInputs(): Inputs {
  const v4: IConnectPacket = {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 60,
    clientId: 'warmup-device-0001', username: 'warmup', password: Buffer.from('not-a-secret'),
  }
  const v5: IConnectPacket = {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: false, keepalive: 30, clientId: 'warmup-device-0002',
    properties: { sessionExpiryInterval: 3600, maximumPacketSize: 65536, receiveMaximum: 32, userProperties: { site: 'warmup' } },
    will: { topic: 'devices/warmup/status', payload: Buffer.from('offline'), qos: 1, retain: false, properties: { willDelayInterval: 5 } },
  }
  const v3: IConnectPacket = { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clean: true, keepalive: 10, clientId: 'warmup-3' }
  const connectPackets = [v4, v5, v3]
  const connects = connectPackets.map((p) => encodeConnect(p, {}))
  // What a broker sends a device: a CONNACK, then a QoS 0 PUBLISH of 40 bytes.
  const brokerStream = Buffer.concat([Buffer.from([0x20, 0x02, 0x00, 0x00]), Buffer.from([0x30, 0x28, 0x00, 0x04, 0x74, 0x2f, 0x61, 0x62]), Buffer.alloc(34, 0x61)])
  const plain = Buffer.from('\u0000MDoxMjMxMjMxMjM6YWs=\u0000not-a-password')
  const amqp = {
    header: Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01]),
    startOk: encodeMethodFrame({ name: 'connection.start-ok', clientProperties: new Map(), mechanism: 'PLAIN', response: plain, locale: 'en_US' }),
    tuneOk: encodeMethodFrame({ name: 'connection.tune-ok', channelMax: 2047, frameMax: 131072, heartbeat: 60 }),
    open: encodeMethodFrame({ name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }),
  }
  const source = { ip: '192.0.2.10', port: 50123 }
  const actor = { kind: 'client' as const, deviceId: 'a'.repeat(64), clientId: 'warmup-device-0001' }
  const audit: AuditInput[] = [
    {
      type: 'connection.accepted', outcome: 'success', protocol: 'mqtt', instanceId: 'warmup', actor, source,
      details: { connId: '00000000-0000-4000-8000-000000000000', listener: 'mqtts', caId: 'b'.repeat(64), deviceId: 'a'.repeat(64), clientId: 'warmup-device-0001', sni: 'warmup.example' },
    },
    {
      type: 'connection.closed', outcome: 'success', protocol: 'mqtt', instanceId: 'warmup', reason: 'CLIENT_CLOSED', actor, source,
      details: { connId: '00000000-0000-4000-8000-000000000000', bytesUpstream: 1234, bytesDownstream: 5678, durationMs: 42 },
    },
    {
      type: 'connection.rejected', outcome: 'failure', protocol: 'mqtt', reason: 'CLIENT_CERT_UNTRUSTED', actor: { kind: 'client', certSubject: 'CN=warmup' }, source,
      details: { connId: '00000000-0000-4000-8000-000000000001', listener: 'mqtts', detail: 'warm-up', sni: 'warmup.example' },
    },
  ]
  return { connects, connectPackets, brokerStream, amqp, audit, blacklist: BlacklistIndex.EMPTY, fingerprint: 'AB:CD:'.repeat(31) + 'EF' }
}

function mqttRound(inputs: Inputs, round: number): number {
  let n = 0
  const raw = inputs.connects[round % inputs.connects.length] as Buffer
  // Whole, and split in two as a TLS record boundary may split it.
  const whole = new ConnectReader(65536).push(raw)
  n += whole.kind === 'connect' ? whole.raw.length : 0
  // mqtt-packet's decoding, which a credential rewrite asks for.
  if (whole.kind === 'connect' && typeof whole.packet.mqttPacket() !== 'string') n += 1
  const reader = new ConnectReader(65536)
  const cut = 1 + (round % (raw.length - 1))
  if (reader.push(raw.subarray(0, cut)).kind === 'need-more') n += reader.push(raw.subarray(cut)).kind.length
  // Refusals the decoder gives: not a CONNECT, and one over the cap.
  n += new ConnectReader(65536).push(inputs.amqp.header).kind.length
  n += new ConnectReader(16).push(raw).kind.length
  const packet = inputs.connectPackets[round % inputs.connectPackets.length] as IConnectPacket
  if (packet.protocolVersion !== 3) n += encodeConnect(packet, { username: 'backend', password: Buffer.from('rewritten') }).length
  const version = packet.protocolVersion === 5 ? 5 : packet.protocolVersion === 3 ? 3 : 4
  const reason = REFUSALS[round % REFUSALS.length] as RefusalReason
  n += connackFor(version, reason, reason, round % 2 === 0 ? 65536 : undefined)?.length ?? 0
  const kick = KICKS[round % KICKS.length] as KickReason
  n += disconnectFor(version, kick, kick, 65536)?.length ?? 0
  n += connackForKick(version, kick, 65536)?.length ?? 0
  const boundary = new MqttPacketBoundary()
  boundary.feed(inputs.brokerStream.subarray(0, 6))
  boundary.feed(inputs.brokerStream.subarray(6))
  return n + boundary.framesStarted
}

function amqpRound(inputs: Inputs): number {
  let n = 0
  const reader = new FrameReader(131072)
  for (const frame of [inputs.amqp.startOk, inputs.amqp.tuneOk, inputs.amqp.open]) {
    const result = reader.push(frame)
    if (result.kind !== 'frames') continue
    for (const f of result.frames) {
      const method = decodeMethod(f.payload)
      if (method.ok && method.method.name === 'connection.start-ok') {
        const credentials = parsePlainResponse(method.method.response)
        n += 'username' in credentials ? credentials.username.length : 1
      }
      n += method.ok ? 1 : 0
    }
  }
  return n + encodeFrame(FRAME_TYPES.HEARTBEAT, 0, Buffer.alloc(0)).length
}

function auditRound(inputs: Inputs, round: number): number {
  const input = inputs.audit[round % inputs.audit.length] as AuditInput
  // Built and serialised as the audit log would, then dropped: the chain is not advanced.
  const event = buildAuditEvent(input, GENESIS_PREV, undefined)
  return toJsonLines([event]).length
}

function rulesRound(inputs: Inputs, round: number): number {
  const deviceId = deviceIdOf({ fingerprint256: inputs.fingerprint })
  const subject = blacklistSubject({ deviceId, clientId: 'warmup-device-0001', caId: deviceId, instanceId: 'warmup', sourceIp: `192.0.2.${round & 255}` })
  const banned = inputs.blacklist.match(subject, Date.now()) === undefined ? 0 : 1
  const status = firstSeenStatus({ autoRegisterDevices: true, newDeviceStatus: round % 2 === 0 ? 'ACTIVE' : 'INACTIVE' }) ?? 'ACTIVE'
  const refusal = deviceStateRefusal(status)
  const admits = tunnelAdmits({ accessType: round % 3 === 0 ? 'SINGLE_TUNNEL' : 'ANY_TUNNEL', vpcId: 'vpc-warmup' }, round % 2 === 0 ? 'vpc-warmup' : undefined)
  return banned + (refusal?.length ?? 0) + (admits ? 1 : 0)
}

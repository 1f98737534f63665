import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { X509Certificate } from 'node:crypto'
import type { ConnId } from '../ids'
import type { ListenerConfig } from '../config/schema'
import type { CaRecord, DeviceRecord, InstanceRecord } from '../store/records'
import type { ConnectInfo } from '../protocols/mqtt/connect-decoder'
import type { Reason, CloseCause } from '../reasons'
import type { FieldTable } from '../protocols/amqp/field-table'
import type { AmqpSubject } from '../auth/authenticate'
import type { HandshakeFrames } from './amqp-frames'
import type { VpcIdentity } from '../tunnel/proxy-protocol'

/**
 * One client connection as it moves through the pipeline.
 *
 * State is a closed union: `phase` says what the connection is doing, and the runner refuses an
 * event that does not fit the phase (e.g. a kick before forwarding) rather than guessing.
 *
 * Backpressure rules:
 * - before the splice, the gateway reads only what one handshake stage asks for, through a capped
 *   decoder, and pauses the client socket in between;
 * - after the splice, `pipe()` pauses the reading side whenever the writing side's buffer is full
 *   and resumes it on 'drain', in both directions independently.
 */
export type Phase =
  | { name: 'handshaking' }
  | { name: 'authenticating' }
  | { name: 'connecting' }
  | { name: 'forwarding'; upstream: Socket }
  | { name: 'closed'; reason: Reason | CloseCause }

export interface Source {
  ip: string
  port: number
  vpcId?: string
}

export interface MqttHandshake {
  connect: ConnectInfo
  /** Exact CONNECT bytes, forwarded unchanged unless credentials are rewritten. */
  raw: Buffer
  /** Bytes the client sent after the CONNECT (pipelined packets); forwarded after it. */
  rest: Buffer
}

export interface AmqpHandshake {
  /** The client's handshake frames; what it pipelined after Open is drained into the splice. */
  frames: HandshakeFrames
  /** Connection.Start went out: from here on a refusal is a Connection.Close. */
  startSent: boolean
  clientProperties?: FieldTable
  /** Held only between Start-Ok and the authentication stage, then dropped. */
  credentials?: { username: string; password: string }
  subject?: AmqpSubject
  /** The AccessKey a refused userName named, for the audit event. */
  claimedAccessKeyId?: string
}

export interface Connection {
  readonly id: ConnId
  readonly listener: ListenerConfig
  readonly socket: Socket
  /** `performance.now()` at accept; the handshake histogram and the deadline measure from here. */
  readonly acceptedAt: number
  readonly startedAt: string
  readonly signal: AbortSignal
  source: Source
  /** The load balancer that sent the PROXY header, when there was one. */
  proxiedBy?: { ip: string; port: number }
  /** The VPC identity from the PROXY header's TLVs (cloud, kind, id). */
  vpc?: VpcIdentity
  phase: Phase
  /** What the client speaks through: the TLS socket once TLS is up, else the plain socket. */
  client: Socket | TLSSocket
  tls?: TLSSocket
  sni?: string
  instance?: InstanceRecord
  /** The verified client chain, leaf first. */
  peerChain?: X509Certificate[]
  ca?: CaRecord
  device?: DeviceRecord
  mqtt?: MqttHandshake
  /** Protocol level read from a CONNECT that failed to decode, to answer in the client's version. */
  mqttVersionHint?: 3 | 4 | 5
  amqp?: AmqpHandshake
  upstream?: Socket
  /** Bytes to send upstream before splicing (the CONNECT, maybe rewritten, and what followed it). */
  upstreamPreamble?: Buffer[]
  /** Bytes the backend sent past the handshake, for the client before splicing. */
  downstreamPreamble?: Buffer[]
}

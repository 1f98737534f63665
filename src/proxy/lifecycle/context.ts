import type { Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import type { ConnId } from '../../ids'
import type { ListenerConfig } from '../../config/schema'
import type { InstanceRecord } from '../../store/records'
import type { VpcIdentity } from '../../tunnel/proxy-protocol'
import type { ClientIdentity } from '../session-registry'

/**
 * What a connection is, phase by phase, before the splice. Each phase is its own type and holds
 * exactly what is known by then; a stage takes one phase and returns the next (or a refusal), so
 * a field that is optional here really may be absent, and nothing is read before it is set.
 *
 *   accepted ─► proxied ─► secured ─► (protocol phases) ─► identified ─► admitted ─► connected ─► ready
 *   listener    PROXY hdr   TLS, SNI    hello, client       who it is     rules        broker      preambles
 *               VPC         instance?   certificate…        (identity)    passed       socket      built
 *
 * After `ready` the splice (splice.ts) takes over and the connection becomes a live session, whose
 * state is the session registry's (session-registry.ts); `closed` is the end of either path.
 * Contexts are never mutated: a stage spreads the one it got into the next, so the phase a refusal
 * sees is exactly the one the failing stage was given.
 */
export interface Source {
  readonly ip: string
  readonly port: number
  readonly vpcId?: string
}

/** Fields every phase has: fixed at accept, or the source once the PROXY header settled it. */
interface Base {
  readonly id: ConnId
  readonly listener: ListenerConfig
  /** The raw TCP socket from the listener. */
  readonly socket: Socket
  /** `performance.now()` at accept; the handshake histogram measures from here. */
  readonly acceptedAt: number
  readonly startedAt: string
  /** Aborted when the handshake deadline (`limits.handshakeTimeoutMs`) passes. */
  readonly signal: AbortSignal
  readonly source: Source
}

export interface Accepted extends Base {
  readonly phase: 'accepted'
}

/** The real client address is settled: the PROXY header's (from a trusted balancer) or the socket's. */
export interface Proxied extends Base {
  readonly phase: 'proxied'
  /** The load balancer that sent the PROXY header, when there was one. */
  readonly proxiedBy?: { readonly ip: string; readonly port: number }
  readonly vpc?: VpcIdentity
}

/** TLS is up (or the listener is plain). The instance is known when SNI or a default named one. */
export interface Secured extends Omit<Proxied, 'phase'> {
  readonly phase: 'secured'
  /** What the client speaks through: the TLS socket, or the plain one on a plain listener. */
  readonly client: Socket
  readonly tls?: TLSSocket
  readonly sni?: string
  readonly instance?: InstanceRecord
}

/**
 * The protocol's hello is read and the client authenticated. `hello` is the protocol's own
 * handshake state (MQTT: the CONNECT; AMQP: its frame reader and subject); `identity` is what the
 * shared rules (blacklist, tunnel, session registry, audit) read, the same for every protocol.
 */
export interface Identified<H> extends Omit<Secured, 'phase' | 'instance'> {
  readonly phase: 'identified'
  readonly instance: InstanceRecord
  readonly identity: ClientIdentity
  /** Client identity for the audit `actor` (never credentials). */
  readonly actor: Readonly<Record<string, string>>
  readonly hello: H
}

/** Every admission rule passed (tunnel, blacklist). */
export interface Admitted<H> extends Omit<Identified<H>, 'phase'> {
  readonly phase: 'admitted'
}

/** The broker's socket is open. */
export interface Connected<H> extends Omit<Admitted<H>, 'phase'> {
  readonly phase: 'connected'
  readonly upstream: Socket
}

/**
 * Both preambles are built: the handshake's last bytes for the broker (a CONNECT, Tune-Ok + Open)
 * and for the client; and what either peer sent past its handshake (`…Pipelined`), which belongs
 * to the session's stream: it starts at a packet boundary and goes through the session's
 * authorization filters like every later byte (a publish pipelined after the CONNECT is decided
 * as any other).
 */
export interface Ready<H> extends Omit<Connected<H>, 'phase'> {
  readonly phase: 'ready'
  readonly upstreamPreamble: readonly Buffer[]
  readonly downstreamPreamble: readonly Buffer[]
  readonly clientPipelined: readonly Buffer[]
  readonly brokerPipelined: readonly Buffer[]
}

/** Any phase of any protocol, as the runner holds it: the shared fields and the phase's name. */
export type AnyPhase = Base & { readonly phase: string }

/** Fields that some phases have, read by the runner for audit without knowing the phase. */
export function instanceOf(ctx: AnyPhase): InstanceRecord | undefined {
  return (ctx as Partial<Secured>).instance
}

export function upstreamOf(ctx: AnyPhase): Socket | undefined {
  return (ctx as Partial<Connected<unknown>>).upstream
}

/** The socket the client speaks through in this phase. */
export function clientOf(ctx: AnyPhase): Socket {
  return (ctx as Partial<Secured>).client ?? ctx.socket
}

/** True from `secured` on (and on a plain listener always): the client can be answered in its protocol. */
export function canAnswer(ctx: AnyPhase): boolean {
  return (ctx as Partial<Secured>).client !== undefined || !ctx.listener.tls
}

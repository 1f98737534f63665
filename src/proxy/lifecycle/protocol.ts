import type { InstanceRecord } from '../../store/records'
import type { KickReason, RefusalReason } from '../../reasons'
import type { ProtocolName } from '../../protocols/names'
import type { PipelineDeps } from '../deps'
import type { FrameBoundary } from '../frame-boundary'
import type { FilterIo, SessionFilters } from '../stream-filter'
import type { Rejection } from '../verdict'
import type { Chain } from './chain'
import type { AnyPhase, Connected, Identified, Ready, Secured } from './context'

/**
 * Everything the gateway needs to know about one protocol, in one value. The runner, the shared
 * stages and the composition root know only this interface; each protocol directory
 * (src/protocols/<name>/) exports one, and src/protocols/registry.ts lists them. `H` is the
 * protocol's handshake state carried from `identified` to `ready`.
 */
export interface ProtocolModule<H> {
  readonly name: ProtocolName
  /** Ask for a client certificate in the TLS handshake (MQTT devices authenticate with one). */
  readonly requestClientCertificate: boolean
  /** Which instance serves a client that sent no SNI, when its listener names no default. */
  instanceWithoutSni(instances: readonly InstanceRecord[]): InstanceRecord | undefined
  /** From TLS to a known client: the protocol's hello and authentication. */
  readonly identify: Chain<Secured, Identified<H>>
  /** From an open broker socket to the preambles: the protocol's upstream handshake. */
  readonly forward: Chain<Connected<H>, Ready<H>>
  /** The address of the embedded broker for an instance with `backend.kind: embedded`, if the protocol has one. */
  embeddedBackend?(instance: InstanceRecord, deps: Pick<PipelineDeps, 'embeddedBrokers'>): Promise<{ host: string; port: number }>
  /**
   * Last words for a refused client (a CONNACK, a Connection.Close), in the phase it was refused
   * in; may read the client's hello to answer in its version. `actor` is what reading it taught.
   */
  refusal(ctx: AnyPhase, reason: RefusalReason, deps: PipelineDeps): Promise<{ reply?: Buffer | undefined; actor?: Record<string, string> }>
  /** A protocol error thrown by one of the protocol's stages, as a refusal; undefined if not its own. */
  stageError(err: unknown, stage: string): Rejection | undefined
  /**
   * What a live session keeps of its protocol: the goodbye a kick writes — `brokerSpoke` is false
   * while the broker has sent nothing yet (its CONNACK or Open-Ok is still to come) — and a frame
   * tracker of the broker → client stream so that the goodbye goes between two frames; and the
   * last words when the broker itself goes away (`backendLost`: MQTT 5 DISCONNECT 0x80, AMQP
   * Connection.Close 320), written by the splice at a frame boundary. Must not hold `ctx`.
   */
  session(ctx: Ready<H>): {
    farewell(reason: KickReason, brokerSpoke: boolean): Buffer | undefined
    backendLost?(brokerSpoke: boolean): Buffer | undefined
    boundary?: FrameBoundary
  }
  /**
   * The authorization filters of a session whose instance enforces authorization (DESIGN §4):
   * the splice pumps both directions through them (stream-filter.ts), and the downstream one
   * replaces `session().boundary` for the kick's goodbye. Must not hold `ctx`.
   */
  enforce(ctx: Ready<H>, io: FilterIo): SessionFilters
}

/** A module of whichever protocol, as the registry and the runner hold it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each module has its own H
export type AnyProtocolModule = ProtocolModule<any>

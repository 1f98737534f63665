import type { KickReason, RefusalReason } from '../../reasons'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import type { FrameBoundary } from '../frame-boundary'
import type { SessionIdentity } from '../session-registry'

/**
 * What the pipeline needs to know about a protocol to refuse, identify and kick its clients.
 * The decision is made elsewhere; the adapter only turns a reason code into the protocol's words.
 */
export interface ProtocolAdapter {
  /** Last words for a refused client, or undefined to just close. May read the client's hello. */
  refusalReply(conn: Connection, reason: RefusalReason, deps: PipelineDeps): Promise<Buffer | undefined>
  /**
   * The goodbye written to a live client before a kick closes it, as a function of the kick
   * reason. Called once at the splice; the function must not hold on to `conn`.
   */
  farewell(conn: Connection): (reason: KickReason) => Buffer | undefined
  /** A frame tracker for the broker → client stream, when kicks of this session say goodbye. */
  frameBoundary(conn: Connection): FrameBoundary | undefined
  /** Identity fields of the connection, for the session registry and audit. */
  identity(conn: Connection): Omit<SessionIdentity, 'instanceId' | 'protocol' | 'sourceIp' | 'sourcePort'>
  /** Client identity for audit `actor` (never credentials). */
  actor(conn: Connection): Record<string, string>
}

import { encodeConnect } from '../../protocols/mqtt/connect-encoder'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * Prepares what goes upstream before the splice: the client's CONNECT — byte for byte, unless the
 * instance replaces the credentials with its backend's or sets the username to the certificate
 * identity (DESIGN §2) — followed by whatever the client pipelined after it.
 */
export async function mqttForward(conn: Connection, _deps: PipelineDeps): Promise<Verdict> {
  const handshake = conn.mqtt
  const instance = conn.instance
  if (handshake === undefined || instance === undefined) return reject('PROTOCOL_ERROR', 'forward before CONNECT')
  const { options, backend } = instance
  const overrides: { username?: string | null; password?: Buffer | null } = {}
  if (options.replaceBackendCredentials) {
    overrides.username = backend.username ?? null
    overrides.password = backend.password === undefined ? null : Buffer.from(backend.password, 'utf8')
  }
  if (options.usernameFromCertificate) {
    const cn = conn.device?.commonName
    if (cn !== undefined) overrides.username = cn
  }
  let connect = handshake.raw
  if (Object.keys(overrides).length > 0) {
    try {
      connect = encodeConnect(handshake.connect.packet, overrides)
    } catch (err) {
      // e.g. a 3.1.1 CONNECT left with a password but no username by the instance's backend
      // credentials: the gateway cannot speak for this client, so it refuses rather than guess.
      return reject('PROTOCOL_ERROR', `CONNECT cannot be rewritten: ${(err as Error).message}`)
    }
  }
  conn.upstreamPreamble = handshake.rest.length > 0 ? [connect, handshake.rest] : [connect]
  return CONTINUE
}

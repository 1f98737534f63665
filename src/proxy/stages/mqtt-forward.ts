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
  const connect = Object.keys(overrides).length === 0 ? handshake.raw : encodeConnect(handshake.connect.packet, overrides)
  conn.upstreamPreamble = handshake.rest.length > 0 ? [connect, handshake.rest] : [connect]
  return CONTINUE
}

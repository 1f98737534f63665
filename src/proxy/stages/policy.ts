import { tunnelAdmits } from '../../policy/tunnel'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import type { ProtocolAdapter } from '../adapters/adapter'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * Any Tunnel / Single Tunnel (DESIGN §1): once the instance is known, a connection from outside a
 * Single Tunnel instance's bound VPC is refused. With SNI this already ran inside the TLS
 * handshake; this stage covers instances found without SNI (a default instance, an AMQP userName).
 */
export async function tunnel(conn: Connection, _deps: PipelineDeps): Promise<Verdict> {
  const instance = conn.instance
  if (instance === undefined || tunnelAdmits(instance, conn.source.vpcId)) return CONTINUE
  return reject('TUNNEL_DENIED', `instance ${instance.id} admits only VPC ${instance.vpcId ?? '(none)'}; connection from ${conn.source.vpcId ?? 'a public network'}`)
}

/**
 * The blacklist (DESIGN §1), checked twice: right after the PROXY header, where only the address
 * is known, so that a banned address does not even get a TLS handshake; and once the identity is
 * complete (certificate, clientId, username, AccessKey, account).
 */
export function blacklist(adapter: ProtocolAdapter) {
  return async (conn: Connection, deps: PipelineDeps): Promise<Verdict> => {
    const identity = adapter.identity(conn)
    const entry = deps.blacklist.current().match({
      ip: conn.source.ip,
      ...(conn.instance !== undefined ? { instanceId: conn.instance.id } : {}),
      ...(identity.accessKeyId !== undefined ? { accessKeyId: identity.accessKeyId } : {}),
      ...(identity.account !== undefined ? { account: identity.account } : {}),
      ...(identity.username !== undefined ? { username: identity.username } : {}),
      ...(identity.clientId !== undefined ? { clientId: identity.clientId } : {}),
      ...(identity.deviceId !== undefined ? { certFingerprint: identity.deviceId } : {}),
    }, Date.now())
    return entry === undefined ? CONTINUE : reject('BLACKLISTED', `blacklist entry ${entry.id} (${entry.kind})`)
  }
}

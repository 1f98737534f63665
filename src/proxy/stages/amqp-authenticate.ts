import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * Checks the AccessKey-derived userName/password (DESIGN §1) and settles the instance: the SNI's
 * when the client sent one (the userName must name the same instance), else the one the userName
 * names. The password is dropped from the connection as soon as it has been checked.
 */
export async function amqpAuthenticate(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  const amqp = conn.amqp
  const credentials = amqp?.credentials
  if (amqp === undefined || credentials === undefined) return reject('PROTOCOL_ERROR', 'authentication before Start-Ok')
  delete amqp.credentials
  const result = await deps.amqpAuth.authenticate({
    username: credentials.username,
    password: credentials.password,
    ...(conn.instance !== undefined ? { instanceId: conn.instance.id } : {}),
  })
  if (!result.ok) {
    if (result.accessKeyId !== undefined) amqp.claimedAccessKeyId = result.accessKeyId
    return reject(result.reason, result.detail)
  }
  const instance = conn.instance ?? deps.directory.get(result.subject.instanceId)
  if (instance === undefined || instance.protocol !== 'amqp') {
    return reject('UNKNOWN_INSTANCE', `no AMQP instance ${result.subject.instanceId}`)
  }
  conn.instance = instance
  amqp.subject = result.subject
  return CONTINUE
}

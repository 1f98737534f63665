import type { PolicyVariables, Principal } from '../policy/authorization/types'
import type { SessionIdentity } from '../proxy/session-registry'

/** The account whose AccessKeys are granted everything (DESIGN §4). */
export { ROOT_ACCOUNT_ID as ROOT_ACCOUNT } from '../accounts/account-ids'
import { ROOT_ACCOUNT_ID } from '../accounts/account-ids'

/** Who a session is in policy terms: the principals whose policies apply, and its variables. */
export interface AuthorizationSubject {
  readonly principals: readonly Principal[]
  readonly vars: PolicyVariables
  /** An AccessKey of the root account: every action is allowed without a policy. */
  readonly root: boolean
}

/**
 * DESIGN §4 principals of a client: every client is `instance:<id>`; a device also `ca:<inst>/<caId>`
 * and `device:<inst>/<deviceId>`; an AMQP client `accessKey:<id>` and `account:<its account>`.
 */
export function subjectOf(s: SessionIdentity): AuthorizationSubject {
  const principals: Principal[] = [`instance:${s.instanceId}`]
  if (s.caId !== undefined) principals.push(`ca:${s.instanceId}/${s.caId}`)
  if (s.deviceId !== undefined) principals.push(`device:${s.instanceId}/${s.deviceId}`)
  if (s.accessKeyId !== undefined) principals.push(`accessKey:${s.accessKeyId}`)
  if (s.accountId !== undefined) principals.push(`account:${s.accountId}`)
  const vars: { -readonly [K in keyof PolicyVariables]: PolicyVariables[K] } = {}
  if (s.clientId !== undefined) vars.clientId = s.clientId
  if (s.username !== undefined) vars.username = s.username
  if (s.certCommonName !== undefined) vars.certCommonName = s.certCommonName
  if (s.deviceId !== undefined) vars.deviceId = s.deviceId
  if (s.accessKeyId !== undefined) vars.accessKeyId = s.accessKeyId
  return { principals, vars, root: s.accessKeyId !== undefined && s.accountId === ROOT_ACCOUNT_ID }
}

/** The resource `mqtt:Connect` is decided on: the clientId the device presents. */
export function mqttClientResource(instanceId: string, clientId: string): string {
  return `mqtt:${instanceId}:client/${clientId}`
}

export function mqttTopicResource(instanceId: string, topic: string): string {
  return `mqtt:${instanceId}:topic/${topic}`
}

/** The resource `amqp:Connect` is decided on: the virtual host the client opens. */
export function amqpVhostResource(instanceId: string, vhost: string): string {
  return `amqp:${instanceId}:vhost/${vhost}`
}

/** `amqp:<instanceId>:<vhost>:<kind>/<name>`; the default exchange (`''`) is `amq.default`, as RabbitMQ names it. */
export function amqpResource(instanceId: string, vhost: string, kind: 'exchange' | 'queue', name: string): string {
  return `amqp:${instanceId}:${vhost}:${kind}/${kind === 'exchange' && name === '' ? 'amq.default' : name}`
}

import { createHmac, randomBytes } from 'node:crypto'
import { bool, fieldBoolean, fieldTable, type FieldTable, type FieldValue } from '../field-table'
import type { InstanceRecord } from '../../../store/records'

/**
 * The client capabilities that change what RabbitMQ sends on a connection, read from its
 * Start-Ok client-properties `capabilities` table the way the broker reads them (a field counts
 * only as the boolean true; rabbit_reader / rabbit_channel): `consumer_cancel_notify` (Basic.Cancel
 * when a queue goes away) and `connection.blocked` (Connection.Blocked/Unblocked). A pooled
 * connection announces exactly the set of its key, so a client never gets a connection on which
 * the broker sends what it did not ask for. (`authentication_failure_close` only matters for a
 * failed login, which never reaches a client through the pool.)
 */
export const BEHAVIOUR_CAPABILITIES = ['consumer_cancel_notify', 'connection.blocked'] as const
export type BehaviourCapability = (typeof BEHAVIOUR_CAPABILITIES)[number]

export function capabilitiesOf(clientProperties: FieldTable): readonly BehaviourCapability[] {
  const announced = fieldTable(clientProperties, 'capabilities')
  if (announced === undefined) return []
  return BEHAVIOUR_CAPABILITIES.filter((name) => fieldBoolean(announced, name) === true)
}

/** The `capabilities` table a pooled connection announces for a key's set. */
export function capabilitiesTable(set: readonly BehaviourCapability[]): FieldValue {
  return { tag: 'F', value: new Map(set.map((name) => [name, bool(true)])) }
}

/**
 * Two pooled connections are interchangeable when they were made to the same backend with the
 * same credentials and announced the same capabilities. The backend part is a fingerprint of what
 * the login depends on (host, port, TLS settings, username, password), an HMAC under a key of
 * this process's own, so that the password is neither kept nor derivable from a map key. Records
 * are replaced, never mutated, on every change (instance-directory.ts), so the fingerprint is
 * computed once per record.
 */
const FINGERPRINT_KEY = randomBytes(32)
const fingerprints = new WeakMap<InstanceRecord, string>()

export function backendFingerprint(instance: InstanceRecord): string {
  const known = fingerprints.get(instance)
  if (known !== undefined) return known
  const b = instance.backend
  const tls = b.tls ? { ca: b.tls.ca ?? null, servername: b.tls.servername ?? null, rejectUnauthorized: b.tls.rejectUnauthorized ?? true } : null
  const material = JSON.stringify([b.kind, b.host ?? null, b.port ?? null, tls, b.username ?? null, b.password ?? null])
  const fingerprint = createHmac('sha256', FINGERPRINT_KEY).update(material).digest('base64url')
  fingerprints.set(instance, fingerprint)
  return fingerprint
}

export interface PoolKey {
  /** The map key: instance, backend fingerprint, capability set. */
  readonly id: string
  readonly instanceId: string
  readonly capabilities: readonly BehaviourCapability[]
}

export function poolKeyOf(instance: InstanceRecord, clientProperties: FieldTable): PoolKey {
  const capabilities = capabilitiesOf(clientProperties)
  return { id: `${instance.id}\n${backendFingerprint(instance)}\n${capabilities.join(',')}`, instanceId: instance.id, capabilities }
}

import type { BlacklistSubject } from '../policy/blacklist'
import type { ClientIdentity } from './session-registry'

/** A client's identity in the blacklist's terms (a device is listed by its certificate fingerprint). */
export function blacklistSubject(s: ClientIdentity & { instanceId: string; sourceIp: string }): BlacklistSubject {
  const out: BlacklistSubject = { instanceId: s.instanceId, ip: s.sourceIp }
  if (s.accessKeyId !== undefined) out.accessKeyId = s.accessKeyId
  if (s.account !== undefined) out.account = s.account
  if (s.username !== undefined) out.username = s.username
  if (s.clientId !== undefined) out.clientId = s.clientId
  if (s.deviceId !== undefined) out.certFingerprint = s.deviceId
  return out
}

/**
 * The records Portcullis keeps, by collection. Every record is a plain JSON object: both stores
 * serialise them as JSON, so nothing here may hold a Buffer, Date or class instance. Times are
 * ISO 8601 UTC strings.
 */
import type { Statement } from '../policy/authorization/types'
import type { ProtocolName } from '../protocols/names'

export type CertStatus = 'ACTIVE' | 'INACTIVE'
export type DeviceStatus = 'ACTIVE' | 'INACTIVE' | 'REVOKED'
export type AccessType = 'ANY_TUNNEL' | 'SINGLE_TUNNEL'
export type Protocol = ProtocolName

export interface BackendTls {
  /** PEM CA bundle to verify the backend with; absent = the system roots. */
  ca?: string
  servername?: string
  rejectUnauthorized?: boolean
}

export interface BackendSpec {
  /** `embedded` is the in-process aedes broker (MQTT only); `tcp` a real broker. */
  kind: 'tcp' | 'embedded'
  host?: string
  port?: number
  tls?: BackendTls | false
  username?: string
  /**
   * Plaintext: only in a record opened for the data path (instances/instance-secrets.ts
   * `openInstanceSecrets`), or in a store written without a master key. Never returned by the API.
   */
  password?: string
  /** The password sealed at rest (auth/envelope), aad `instance/<id>/backend-password`. */
  passwordSealed?: SealedSecret
  vhost?: string
}

export interface InstanceOptions {
  /** Status given to a device certificate seen for the first time under an ACTIVE CA. */
  newDeviceStatus: 'ACTIVE' | 'INACTIVE'
  /** Register unknown device certificates on first connection (else refuse them). */
  autoRegisterDevices: boolean
  /** Replace the client's CONNECT username/password with the backend credentials. */
  replaceBackendCredentials: boolean
  /** Set the forwarded CONNECT username to the certificate subject CN. */
  usernameFromCertificate: boolean
}

export interface InstanceAuthorization {
  mode: 'off' | 'enforce'
}

export interface InstanceRecord {
  id: string
  protocol: Protocol
  hostnames: string[]
  backend: BackendSpec
  accessType: AccessType
  vpcId?: string
  options: InstanceOptions
  /**
   * DESIGN §4 "Accounts and authorization": `enforce` decides every action of the instance's
   * clients against the policies attached to them; `off` (and a record without the field, written
   * before authorization existed) admits as wave 1 did: connection rules only.
   */
  authorization?: InstanceAuthorization
  /**
   * PEM. At rest the key is sealed in `privateKeySealed` (aad `instance/<id>/server-private-key`)
   * and `privateKey` is '' until `openInstanceSecrets` fills it in for the data path.
   */
  serverCertificate?: { certificate: string; privateKey: string; privateKeySealed?: SealedSecret }
  createdAt: string
  updatedAt: string
}

export interface CaRecord {
  /** Lowercase hex SHA-256 of the DER. */
  id: string
  instanceId: string
  pem: string
  serialNumber: string
  subject: string
  issuer: string
  notBefore: string
  notAfter: string
  status: CertStatus
  /** Hex SHA-256 of the SubjectPublicKeyInfo DER: how chain lookups find a CA by key. */
  spkiSha256: string
  createdAt: string
  updatedAt: string
}

export interface DeviceRecord {
  id: string
  instanceId: string
  caId: string
  pem: string
  serialNumber: string
  subject: string
  commonName?: string
  notBefore: string
  notAfter: string
  status: DeviceStatus
  registeredBy: 'auto' | 'manual'
  createdAt: string
  updatedAt: string
}

export interface RegistrationCodeRecord {
  instanceId: string
  code: string
  expiresAt: string
}

/** Envelope-encrypted secret: a random data key wraps the value; the master key wraps the data key. */
export interface SealedSecret {
  keyId: string
  wrappedKey: string
  iv: string
  tag: string
  ciphertext: string
}

export interface AccessKeyRecord {
  id: string
  secret: SealedSecret
  status: 'Active' | 'Inactive'
  description?: string
  /**
   * The account the key belongs to (DESIGN §4 "Accounts and authorization"). Absent on records
   * written before accounts existed: those keys belong to `root`.
   */
  accountId?: string
  createdAt: string
  updatedAt: string
}

export interface StaticAccountRecord {
  instanceId: string
  accessKeyId: string
  userName: string
  createTimestamp: string
  createdAt: string
}

export interface BlacklistRecord {
  id: string
  kind: 'accessKey' | 'account' | 'username' | 'clientId' | 'certFingerprint' | 'ip'
  value: string
  instanceId?: string
  reason?: string
  actor?: string
  expiresAt?: string
  createdAt: string
}

/**
 * An account (DESIGN §4), scope GLOBAL_SCOPE, id = the account id. `root` is never stored: it
 * always exists and has no parent (src/accounts/account-service.ts synthesises it). An account
 * without `parentId` sits directly under `root`.
 */
export interface AccountRecord {
  id: string
  displayName?: string
  parentId?: string
  createdAt: string
  updatedAt: string
}

/**
 * A policy document (DESIGN §4), scope GLOBAL_SCOPE, id = its name. `version` counts the PUTs
 * that wrote it (1 after the first).
 */
export interface PolicyRecord {
  name: string
  statements: Statement[]
  version: number
  createdAt: string
  updatedAt: string
}

/**
 * One policy attached to one principal: scope = the policy name (so listing a policy's
 * attachments, and refusing to delete an attached policy, read one scope), id = the principal
 * string (`account:<id>`, `accessKey:<id>`, `instance:<id>`, `ca:<inst>/<caId>`, `device:<inst>/<id>`).
 */
export interface PolicyAttachmentRecord {
  policy: string
  principal: string
  createdAt: string
}

/**
 * The master key rotation (DESIGN §4 `keys rotate`), scope GLOBAL_SCOPE, id `current`: one job at
 * a time, its progress written after every batch so a crash resumes where it stood
 * (src/keys/key-rotation.ts). `heartbeatAt` tells a live job from one whose process died.
 */
export interface KeyRotationRecord {
  id: 'current'
  state: 'running' | 'done' | 'failed'
  targetKeyId: string
  /** Secrets found wrapped under other keys when the job (or its resumption) began, plus those done before. */
  total: number
  done: number
  failed: number
  /** Secrets still under another key than the target when the job ended. */
  remaining?: number
  startedAt: string
  heartbeatAt: string
  finishedAt?: string
  /** Process that runs it (ids as in the audit's `chain`). */
  owner: string
  resumed: number
  error?: string
  requestedBy?: string
}

/** Collection name → record type. A record lives under (collection, scope, id). */
export interface Records {
  instances: InstanceRecord
  cas: CaRecord
  devices: DeviceRecord
  registrationCodes: RegistrationCodeRecord
  accessKeys: AccessKeyRecord
  staticAccounts: StaticAccountRecord
  blacklist: BlacklistRecord
  accounts: AccountRecord
  policies: PolicyRecord
  policyAttachments: PolicyAttachmentRecord
  keyRotations: KeyRotationRecord
}
export type Collection = keyof Records
export const COLLECTIONS: readonly Collection[] = [
  'instances', 'cas', 'devices', 'registrationCodes', 'accessKeys', 'staticAccounts', 'blacklist',
  'accounts', 'policies', 'policyAttachments', 'keyRotations',
]
/** Scope for records that belong to no instance (instances themselves, AccessKeys, global lists). */
export const GLOBAL_SCOPE = '_'

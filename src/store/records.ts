/**
 * The records Portcullis keeps, by collection. Every record is a plain JSON object: both stores
 * serialise them as JSON, so nothing here may hold a Buffer, Date or class instance. Times are
 * ISO 8601 UTC strings.
 */
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

/** Collection name → record type. A record lives under (collection, scope, id). */
export interface Records {
  instances: InstanceRecord
  cas: CaRecord
  devices: DeviceRecord
  registrationCodes: RegistrationCodeRecord
  accessKeys: AccessKeyRecord
  staticAccounts: StaticAccountRecord
  blacklist: BlacklistRecord
}
export type Collection = keyof Records
export const COLLECTIONS: readonly Collection[] = [
  'instances', 'cas', 'devices', 'registrationCodes', 'accessKeys', 'staticAccounts', 'blacklist',
]
/** Scope for records that belong to no instance (instances themselves, AccessKeys, global lists). */
export const GLOBAL_SCOPE = '_'

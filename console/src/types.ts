/** The admin API answers as the pages read them (the views under src/ are the source of truth). */
export interface InstanceView {
  id: string
  protocol: 'mqtt' | 'amqp'
  hostnames: string[]
  backend: { kind: 'tcp' | 'embedded'; host?: string; port?: number; username?: string; vhost?: string; tls?: unknown; passwordSet: boolean }
  accessType: 'ANY_TUNNEL' | 'SINGLE_TUNNEL'
  vpcId?: string
  options: { newDeviceStatus: 'ACTIVE' | 'INACTIVE'; autoRegisterDevices: boolean; replaceBackendCredentials: boolean; usernameFromCertificate: boolean }
  authorization?: { mode: 'off' | 'enforce' }
  serverCertificate?: { certificate: string; privateKeySet: true }
  createdAt: string
  updatedAt: string
}

export interface CaView {
  id: string
  serialNumber: string
  subject: string
  notBefore: string
  notAfter: string
  status: 'ACTIVE' | 'INACTIVE'
  createdAt: string
  pem?: string
}

export interface DeviceView {
  id: string
  caId: string
  serialNumber: string
  subject: string
  commonName?: string
  notBefore: string
  notAfter: string
  status: 'ACTIVE' | 'INACTIVE' | 'REVOKED'
  registeredBy: 'auto' | 'manual'
  createdAt: string
  updatedAt: string
}

export interface AccessKeyView {
  accessKeyId: string
  status: 'Active' | 'Inactive'
  description?: string
  accountId: string
  createdAt: string
  updatedAt: string
}

export interface StaticAccountView {
  instanceId: string
  accessKey: string
  userName: string
  createTimestamp: number
  createdAt: string
}

export interface BlacklistEntry {
  id: string
  kind: string
  value: string
  instanceId?: string
  reason?: string
  actor?: string
  expiresAt?: string
  createdAt: string
  expired: boolean
}

export interface AccountView {
  id: string
  displayName?: string
  parentId?: string
  createdAt: string
}

export interface PolicyView {
  name: string
  statements: Array<{ effect: 'Allow' | 'Deny'; actions: string[]; resources: string[] }>
  version: number
  createdAt: string
  updatedAt: string
}

export interface AttachmentView {
  policy: string
  principal: string
  createdAt: string
}

export interface SessionView {
  connId: string
  instanceId: string
  protocol: string
  listener: string
  startedAt: string
  processId: string
  sourceIp: string
  sourcePort: number
  vpcId?: string
  caId?: string
  deviceId?: string
  certCommonName?: string
  clientId?: string
  username?: string
  accessKeyId?: string
  accountId?: string
  vhost?: string
}

export interface AuditEvent {
  id: string
  time: string
  chain?: string
  type: string
  instanceId?: string
  protocol?: string
  outcome: 'success' | 'failure'
  reason?: string
  actor: { kind: string; id?: string } & Record<string, unknown>
  source?: { ip: string; port: number; vpcId?: string }
  details: Record<string, unknown>
  prev: string
  hash: string
}

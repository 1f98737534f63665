import { X509Certificate, createPrivateKey } from 'node:crypto'
import { z } from 'zod'
import { backendSchema, instanceOptionsSchema } from '../config/schema'
import { PortcullisError } from '../errors'
import type { BackendSpec, InstanceRecord } from '../store/records'
import { PROTOCOL_NAMES } from '../protocols/names'

/**
 * What the admin API and the config bootstrap accept for an instance (DESIGN §3 "Admin API":
 * `{id, protocol, hostnames, backend, accessType?, vpcId?, options?, authorization?, serverCertificate?}`).
 * The backend and options pieces are the config schema's own, so the YAML and the API can never
 * disagree on what a backend is.
 */
export const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** A DNS name, or `*.` plus one: the wildcard covers one level (RFC 6125 §6.4.3). */
const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/

const hostname = z.string().min(1).max(253).transform((s) => s.toLowerCase()).refine((s) => HOSTNAME.test(s), {
  message: 'expected a DNS name such as mqtt.example.com or *.example.com',
})

const authorization = z.strictObject({ mode: z.enum(['off', 'enforce']) })

const serverCertificate = z.strictObject({
  certificate: z.string().min(1),
  privateKey: z.string().min(1),
})

export const createInstanceSchema = z.strictObject({
  id: z.string().regex(INSTANCE_ID, 'letters, digits, _ . - (at most 64, starting with a letter or digit)'),
  protocol: z.enum(PROTOCOL_NAMES),
  hostnames: z.array(hostname).max(100).default([]),
  backend: backendSchema.default({ kind: 'embedded' }),
  accessType: z.enum(['ANY_TUNNEL', 'SINGLE_TUNNEL']).default('ANY_TUNNEL'),
  vpcId: z.string().min(1).optional(),
  options: instanceOptionsSchema.default({
    newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false,
  }),
  authorization: authorization.default({ mode: 'off' }),
  serverCertificate: serverCertificate.optional(),
})
export type CreateInstanceInput = z.infer<typeof createInstanceSchema>

/**
 * PATCH body, JSON merge patch style (RFC 7386) for the nested objects: `backend` and `options`
 * are merged into the current ones (so a port change need not resend the password), a `null`
 * member removes it; `hostnames` replaces the list; `vpcId: null` / `serverCertificate: null` remove.
 */
export const patchInstanceSchema = z.strictObject({
  accessType: z.enum(['ANY_TUNNEL', 'SINGLE_TUNNEL']).optional(),
  vpcId: z.string().min(1).nullable().optional(),
  hostnames: z.array(hostname).max(100).optional(),
  backend: z.record(z.string(), z.unknown()).optional(),
  options: instanceOptionsSchema.partial().optional(),
  authorization: authorization.optional(),
  serverCertificate: serverCertificate.nullable().optional(),
})
export type PatchInstanceInput = z.infer<typeof patchInstanceSchema>

/** Parses with a zod schema; a failure is VALIDATION_FAILED naming each bad field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const result = schema.safeParse(input)
  if (result.success) return result.data
  const problems = result.error.issues.map((issue) => {
    const keys = 'keys' in issue && Array.isArray(issue.keys) ? issue.keys : []
    const path = [...issue.path, ...keys.slice(0, 1)].join('.') || '(body)'
    return `${path}: ${issue.message}`
  })
  throw new PortcullisError('VALIDATION_FAILED', `invalid ${what}: ${problems.join('; ')}`)
}

export function parseBackend(input: unknown): BackendSpec {
  return stripUndefined(parseOrThrow(backendSchema, input, 'backend')) as BackendSpec
}

/** Rules across fields, checked on the complete record after a create, patch or bootstrap. */
export function checkInstanceRules(record: InstanceRecord): void {
  const fail = (message: string): never => {
    throw new PortcullisError('VALIDATION_FAILED', `instance ${record.id}: ${message}`)
  }
  const { backend } = record
  if (backend.kind === 'embedded' && record.protocol !== 'mqtt') fail('backend.kind embedded is an MQTT broker; an amqp instance needs kind tcp')
  if (backend.kind === 'tcp' && (backend.host === undefined || backend.port === undefined)) fail('backend.kind tcp needs backend.host and backend.port')
  // DESIGN §1: Single Tunnel = reachable only from one bound VPC, so the binding must exist.
  if (record.accessType === 'SINGLE_TUNNEL' && record.vpcId === undefined) fail('accessType SINGLE_TUNNEL needs vpcId')
  const seen = new Set<string>()
  for (const name of record.hostnames) {
    if (seen.has(name)) fail(`hostname ${name} is listed twice`)
    seen.add(name)
  }
  if (record.serverCertificate !== undefined) checkServerCertificate(record.serverCertificate)
}

/** The certificate must parse and the private key must be its key (else every TLS handshake fails). */
function checkServerCertificate(pair: { certificate: string; privateKey: string }): void {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(pair.certificate)
  } catch (err) {
    throw new PortcullisError('CERT_INVALID', 'serverCertificate.certificate is not a PEM X.509 certificate', { cause: err })
  }
  let matches: boolean
  try {
    matches = cert.checkPrivateKey(createPrivateKey(pair.privateKey))
  } catch (err) {
    throw new PortcullisError('VALIDATION_FAILED', 'serverCertificate.privateKey is not a PEM private key', { cause: err })
  }
  if (!matches) throw new PortcullisError('VALIDATION_FAILED', 'serverCertificate.privateKey does not belong to serverCertificate.certificate')
}

/** exactOptionalPropertyTypes: a record must not hold `key: undefined`. */
export function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T
}

import type { X509Certificate } from 'node:crypto'
import { isIP } from 'node:net'
import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import type { AmqpAuthenticator } from '../../auth/authenticate'
import type { AuthorizationService } from '../../authorization/authorization-service'
import { decidedBy } from '../../authorization/explain'
import { inspectCertificate, parseCertificatePem } from '../../ca/certificate'
import { MAX_PRESENTED, type ChainRefusal } from '../../ca/chain'
import { validateClientChain } from '../../ca/validate'
import { PortcullisError } from '../../errors'
import { identityOf } from '../../protocols/amqp/stages/authenticate'
import { deviceIdOf, deviceStateRefusal, firstSeenStatus, NOT_REGISTERED } from '../../protocols/mqtt/stages/device-certificate'
import type { BlacklistSubject } from '../../policy/blacklist'
import type { BlacklistCache } from '../../proxy/blacklist-cache'
import type { DeviceCache } from '../../proxy/device-cache'
import type { InstanceDirectory } from '../../proxy/instance-directory'
import type { ClientIdentity, SessionIdentity } from '../../proxy/session-registry'
import { blacklistSubject } from '../../proxy/session-subject'
import { tunnelRefusal } from '../../proxy/stages/tunnel'
import type { TrustIndexCache } from '../../proxy/trust-cache'
import { REFUSAL_REASONS, type RefusalReason } from '../../reasons'
import type { StoreFreshness } from '../../store/freshness'
import type { InstanceRecord } from '../../store/records'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { parseBody } from '../request'

/**
 * The data path's own deciders (the objects src/gateway.ts hands the pipeline): explain asks them,
 * it decides nothing itself. Absent on an admin server without a gateway (NOT_FOUND).
 */
export interface AdmissionDeps {
  directory: Pick<InstanceDirectory, 'get'>
  freshness: Pick<StoreFreshness, 'admits' | 'state'>
  trust: Pick<TrustIndexCache, 'forInstance'>
  deviceCache: Pick<DeviceCache, 'get'>
  amqpAuth: Pick<AmqpAuthenticator, 'authenticate'>
  blacklist: Pick<BlacklistCache, 'current'>
  authorization: Pick<AuthorizationService, 'enforces' | 'connect' | 'accountOf'>
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g

const body = z.strictObject({
  instanceId: z.string().min(1).max(64).describe('the instance the client connects to (the one its SNI names)'),
  certificate: z.string().min(1).max(256 * 1024).optional().describe('MQTT: the client certificate chain as the device presents it, PEM, leaf first'),
  username: z.string().min(1).max(4096).optional().describe('AMQP: the userName; MQTT: the CONNECT username'),
  password: z.string().min(1).max(4096).optional().describe('AMQP: the password; checked, never answered or recorded'),
  clientId: z.string().max(65535).optional().describe('MQTT: the CONNECT clientId (mqtt:Connect, clientId blacklist entries)'),
  vhost: z.string().max(255).optional().describe('AMQP: the vhost the client opens (amqp:Connect; default /)'),
  sourceIp: z.string().refine((ip) => isIP(ip) !== 0, 'sourceIp must be an IPv4 or IPv6 address').optional().describe('the client address (ip blacklist entries)'),
  vpcId: z.string().min(1).max(255).optional().describe('the VPC the client connects from (Single Tunnel instances)'),
}).refine((b) => (b.certificate === undefined) !== (b.password === undefined), 'give certificate (MQTT) or username and password (AMQP)')
  .refine((b) => b.password === undefined || b.username !== undefined, 'password needs username')
type ExplainBody = z.infer<typeof body>

const RESULTS = ['pass', 'fail', 'skip', 'unknown'] as const
type CheckResult = (typeof RESULTS)[number]
const checkSchema = z.object({
  check: z.string().describe('the pipeline stage (src/proxy/pipeline.ts) whose rule this is'),
  result: z.enum(RESULTS).describe('pass; fail (this rule refuses); skip (not reached, or not asked); unknown (needs more input)'),
  detail: z.string().describe('which rule, and the record it read (CA, device, blacklist entry, policy)'),
})
export const explainAnswerSchema = z.object({
  admitted: z.boolean().describe('the client would be admitted now'),
  reason: z.enum(REFUSAL_REASONS).nullable().describe('the refusal reason code of the first rule that refuses; null when admitted or undecided'),
  decidedBy: z.string().describe('the deciding rule'),
  checks: z.array(checkSchema).describe('every rule in pipeline order'),
}).meta({ title: 'Explanation' })
export type ExplainAnswer = z.infer<typeof explainAnswerSchema>

/**
 * `POST /v1/explain` (DESIGN §4 "Operator interfaces"; `portcullis explain`): would this client be
 * admitted now, and which rule decides? The rules run in the pipeline's order (src/proxy/
 * pipeline.ts), each one by the data path's own function on the data path's own caches: the
 * address blacklist, the instance its SNI names, the tunnel rule, the store's freshness, then
 * MQTT: the chain (ca/validate.ts), the device certificate state and first-seen rule
 * (device-certificate.ts), `mqtt:Connect`; AMQP: the credentials (auth/authenticate.ts) and
 * `amqp:Connect`; then the identity blacklist. The first refusal is the answer's reason, the one
 * the client would get; later rules are still evaluated, so one call shows everything wrong.
 *
 * Nothing is written: no device is registered, no decision counted, no audit event recorded
 * (this is a read). The password is checked and forgotten: it is in no answer, log or event.
 * Not predicted: the per-source rate limits (live traffic) and the broker's own answer.
 * The answer shows what the rules read (CA and device ids, blacklist entries, that an AccessKey
 * is disabled — the audit detail the client itself never hears), so `admin:Explain` is granted
 * like the read actions of those resources.
 */
export function explainRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/explain', signedRoute('POST', 'admin:Explain', {
      tag: 'Connections', summary: 'Explain an admission',
      description: 'Runs the data path\'s admission rules for a client described by its certificate chain (MQTT) or its login (AMQP), without connecting, and answers whether it would be admitted now and which rule decides. Writes nothing.',
      body, responses: { 200: { description: 'The verdict and every rule', json: explainAnswerSchema } }, errors: ['NOT_FOUND', 'CERT_INVALID'],
    }), async (req) => {
      const input = parseBody(body, req)
      if (ctx.admission === undefined) throw new PortcullisError('NOT_FOUND', 'this admin server runs without a gateway: there is no data path to explain')
      return explain(ctx.admission, input, Date.now())
    })
  }
}

/** The checks so far; the first failure decides, as the pipeline stops at its first refusal. */
class Checks {
  readonly list: Array<{ check: string; result: CheckResult; detail: string }> = []
  private refusal: { reason: RefusalReason; check: string; detail: string } | undefined
  private undecided: { check: string; detail: string } | undefined

  pass(check: string, detail: string): void {
    this.list.push({ check, result: 'pass', detail })
  }

  fail(check: string, reason: RefusalReason, detail: string): void {
    this.list.push({ check, result: 'fail', detail: `${reason}: ${detail}` })
    this.refusal ??= { reason, check, detail }
  }

  skip(check: string, detail: string): void {
    this.list.push({ check, result: 'skip', detail })
  }

  unknown(check: string, detail: string): void {
    this.list.push({ check, result: 'unknown', detail })
    this.undecided ??= { check, detail }
  }

  answer(): ExplainAnswer {
    if (this.refusal !== undefined) {
      return { admitted: false, reason: this.refusal.reason, decidedBy: `${this.refusal.check}: ${this.refusal.detail}`, checks: this.list }
    }
    if (this.undecided !== undefined) {
      return { admitted: false, reason: null, decidedBy: `undecided, ${this.undecided.check}: ${this.undecided.detail}`, checks: this.list }
    }
    const deciding = this.list.filter((c) => c.result === 'pass' && IDENTITY_CHECKS.has(c.check)).map((c) => `${c.check}: ${c.detail}`)
    return { admitted: true, reason: null, decidedBy: deciding.join('; '), checks: this.list }
  }
}

/** The checks that say who the client is and what it may do: the admitted answer's `decidedBy`. */
const IDENTITY_CHECKS = new Set(['client-certificate', 'device-certificate', 'mqtt-authorize-connect', 'amqp-authenticate', 'amqp-authorize-connect'])

export async function explain(deps: AdmissionDeps, input: ExplainBody, now: number): Promise<ExplainAnswer> {
  const checks = new Checks()
  const protocol = input.certificate !== undefined ? 'mqtt' : 'amqp'
  // A chain that is no certificate is the request's fault, whatever the rules would say.
  const chain = input.certificate === undefined ? [] : chainOf(input.certificate)
  if (protocol === 'mqtt' && chain.length === 0) throw new PortcullisError('CERT_INVALID', 'certificate holds no PEM certificate')
  // Stage blacklist-address: before TLS, on the address alone (no instance known yet).
  if (input.sourceIp === undefined) checks.skip('blacklist-address', 'no sourceIp given: ip entries are not checked')
  else {
    const entry = deps.blacklist.current().match({ ip: input.sourceIp }, now)
    if (entry === undefined) checks.pass('blacklist-address', `no entry matches ${input.sourceIp}`)
    else checks.fail('blacklist-address', 'BLACKLISTED', entryDetail(entry))
  }
  const instance = instanceCheck(deps, checks, input.instanceId, protocol)
  if (instance === undefined) {
    for (const rest of protocol === 'mqtt' ? MQTT_AFTER_TLS : AMQP_AFTER_TLS) checks.skip(rest, 'no such instance')
    return checks.answer()
  }
  const tunnel = tunnelRefusal(instance, { ip: input.sourceIp ?? '', port: 0, ...(input.vpcId !== undefined ? { vpcId: input.vpcId } : {}) })
  if (tunnel === undefined) checks.pass('tunnel', instance.accessType === 'SINGLE_TUNNEL' ? `SINGLE_TUNNEL: VPC ${instance.vpcId ?? ''} admitted` : 'ANY_TUNNEL: every network admitted')
  else checks.fail('tunnel', tunnel.reason, tunnel.detail ?? 'the tunnel rule refuses it')
  if (deps.freshness.admits()) checks.pass('fresh-state', 'the store view is fresh')
  else checks.fail('fresh-state', 'BACKEND_UNAVAILABLE', `the store view is ${deps.freshness.state().name}: every decision below would be refused`)
  const identity = protocol === 'mqtt' ? await mqttChecks(deps, checks, instance, chain, input, now) : await amqpChecks(deps, checks, instance, input, now)
  // Stage blacklist (identity), once the protocol identified the client.
  const subject = blacklistSubject({ ...identity, instanceId: instance.id, sourceIp: input.sourceIp ?? '' })
  if (input.sourceIp === undefined) delete subject.ip
  const entry = deps.blacklist.current().match(subject, now)
  if (entry === undefined) checks.pass('blacklist', `no entry matches ${describeSubject(subject)}`)
  else checks.fail('blacklist', 'BLACKLISTED', entryDetail(entry))
  if (protocol === 'amqp') amqpConnectCheck(deps, checks, instance, identity, input)
  checks.skip('upstream', 'the broker connection and its answer are not tried')
  return checks.answer()
}

const MQTT_AFTER_TLS = ['tunnel', 'fresh-state', 'client-certificate', 'device-certificate', 'mqtt-authorize-connect', 'blacklist', 'upstream']
const AMQP_AFTER_TLS = ['tunnel', 'fresh-state', 'amqp-authenticate', 'blacklist', 'amqp-authorize-connect', 'upstream']

/** Stage tls: the instance the SNI names must exist and speak the client's protocol. */
function instanceCheck(deps: AdmissionDeps, checks: Checks, instanceId: string, protocol: 'mqtt' | 'amqp'): InstanceRecord | undefined {
  const instance = deps.directory.get(instanceId)
  if (instance === undefined) {
    checks.fail('tls', 'UNKNOWN_INSTANCE', `no instance ${instanceId}`)
    return undefined
  }
  if (instance.protocol !== protocol) {
    checks.fail('tls', 'UNKNOWN_INSTANCE', `instance ${instanceId} is ${instance.protocol.toUpperCase()}; a ${protocol.toUpperCase()} client (${protocol === 'mqtt' ? 'certificate' : 'username/password'}) naming it is refused`)
    return undefined
  }
  checks.pass('tls', `${protocol.toUpperCase()} instance ${instanceId}`)
  return instance
}

/** Stages client-certificate, device-certificate and mqtt-authorize-connect. */
async function mqttChecks(deps: AdmissionDeps, checks: Checks, instance: InstanceRecord, chain: X509Certificate[], input: ExplainBody, now: number): Promise<ClientIdentity> {
  const leaf = chain[0]
  if (leaf === undefined) throw new PortcullisError('CERT_INVALID', 'certificate holds no PEM certificate')
  const speaker = { ...(input.clientId !== undefined ? { clientId: input.clientId } : {}), ...(input.username !== undefined ? { username: input.username } : {}) }
  const deviceId = deviceIdOf(leaf)
  const verdict = await validateClientChain(chain, await deps.trust.forInstance(instance.id), new Date(now))
  if (!verdict.ok) {
    checks.fail('client-certificate', verdict.reason, `${verdict.detail ?? CHAIN_REFUSALS[verdict.reason]} (leaf ${leaf.subject.replace(/\n/g, ', ')}, issued by ${leaf.issuer.replace(/\n/g, ', ')})`)
    checks.skip('device-certificate', 'no verified chain')
    checks.skip('mqtt-authorize-connect', 'no verified chain')
    return { deviceId, ...speaker }
  }
  const ca = verdict.ca
  checks.pass('client-certificate', `chains to ${ca.status} CA ${ca.subject} (${ca.id})`)
  const device = await deps.deviceCache.get(instance.id, deviceId)
  const commonName = device?.commonName ?? inspectCertificate(leaf).commonName
  const identity: ClientIdentity = { caId: ca.id, deviceId, ...speaker, ...(commonName !== undefined ? { certCommonName: commonName } : {}) }
  if (device === undefined) {
    const status = firstSeenStatus(instance.options)
    const refusal = status === undefined ? undefined : deviceStateRefusal(status)
    if (status === undefined) checks.fail('device-certificate', 'CLIENT_CERT_UNTRUSTED', `${NOT_REGISTERED} (device ${deviceId}; the instance registers none on first connection)`)
    else if (refusal !== undefined) checks.fail('device-certificate', refusal, `device ${deviceId} is not registered yet: its first connection registers it ${status} (options.newDeviceStatus), which is refused`)
    else checks.pass('device-certificate', `device ${deviceId} is not registered yet: its first connection registers it ${status}`)
  } else {
    const refusal = deviceStateRefusal(device.status)
    if (refusal === undefined) checks.pass('device-certificate', `device ${deviceId} is ACTIVE`)
    else checks.fail('device-certificate', refusal, `device ${deviceId} is ${device.status} (since ${device.updatedAt})`)
  }
  connectCheck(deps, checks, 'mqtt-authorize-connect', sessionOf(instance, 'mqtt', identity, input), input.clientId === undefined ? 'the clientId decides: give clientId' : undefined)
  return identity
}

/** Stage amqp-authenticate: the AccessKey-derived login, as the data path checks it. */
async function amqpChecks(deps: AdmissionDeps, checks: Checks, instance: InstanceRecord, input: ExplainBody, now: number): Promise<ClientIdentity> {
  const result = await deps.amqpAuth.authenticate({ username: input.username ?? '', password: input.password ?? '', instanceId: instance.id, now })
  if (!result.ok) {
    checks.fail('amqp-authenticate', result.reason, result.detail)
    return result.accessKeyId !== undefined ? { accessKeyId: result.accessKeyId, username: input.username ?? '' } : { username: input.username ?? '' }
  }
  const s = result.subject
  checks.pass('amqp-authenticate', `${s.kind} login of AccessKey ${s.accessKeyId}${s.account !== undefined ? ' (static user)' : ''}${s.expiresAt !== undefined ? `, token valid until ${s.expiresAt}` : ''}`)
  const accountId = deps.authorization.enforces(instance.id) ? await deps.authorization.accountOf(s.accessKeyId) : undefined
  return { ...identityOf(s), ...(accountId !== undefined ? { accountId } : {}) }
}

/** Stage amqp-backend decides amqp:Connect once the client opened its vhost. */
function amqpConnectCheck(deps: AdmissionDeps, checks: Checks, instance: InstanceRecord, identity: ClientIdentity, input: ExplainBody): void {
  if (identity.accessKeyId === undefined || checks.list.some((c) => c.check === 'amqp-authenticate' && c.result !== 'pass')) {
    checks.skip('amqp-authorize-connect', 'not authenticated')
    return
  }
  connectCheck(deps, checks, 'amqp-authorize-connect', { ...sessionOf(instance, 'amqp', identity, input), vhost: input.vhost ?? '/' }, undefined)
}

function connectCheck(deps: AdmissionDeps, checks: Checks, check: string, session: SessionIdentity, missing: string | undefined): void {
  const action = session.protocol === 'mqtt' ? 'mqtt:Connect' : 'amqp:Connect'
  if (!deps.authorization.enforces(session.instanceId)) {
    checks.pass(check, `instance ${session.instanceId} does not enforce authorization (mode off)`)
    return
  }
  if (missing !== undefined) {
    checks.unknown(check, `the instance enforces ${action}; ${missing}`)
    return
  }
  const decision = deps.authorization.connect(session, { dryRun: true })
  const on = session.protocol === 'mqtt' ? `clientId ${JSON.stringify(session.clientId ?? '')}` : `vhost ${session.vhost ?? ''}`
  if (decision === undefined || decision.allowed) checks.pass(check, `${action} on ${on} allowed${decision === undefined ? '' : decidedBy(decision)}`)
  else checks.fail(check, 'NOT_AUTHORIZED', `${action} on ${on} is not allowed${decidedBy(decision)}`)
}

function sessionOf(instance: InstanceRecord, protocol: 'mqtt' | 'amqp', identity: ClientIdentity, input: ExplainBody): SessionIdentity {
  return {
    instanceId: instance.id, protocol, sourceIp: input.sourceIp ?? '', sourcePort: 0,
    ...(input.vpcId !== undefined ? { vpcId: input.vpcId } : {}),
    ...identity,
  }
}

/** The presented chain, leaf first, each certificate parsed as strictly as registration does. */
function chainOf(pem: string): X509Certificate[] {
  const blocks = pem.match(PEM_BLOCK) ?? []
  if (blocks.length > MAX_PRESENTED) throw new PortcullisError('VALIDATION_FAILED', `certificate: at most ${MAX_PRESENTED} certificates in a chain`)
  return blocks.map((block, i) => {
    try {
      return parseCertificatePem(block).x509
    } catch (err) {
      throw new PortcullisError('CERT_INVALID', `certificate ${i + 1} of the chain: ${(err as Error).message}`, { cause: err })
    }
  })
}

/** What chain.ts's refusals mean when it gives no detail of its own. */
const CHAIN_REFUSALS: Readonly<Record<ChainRefusal, string>> = {
  CLIENT_CERT_MISSING: 'no certificate',
  CLIENT_CERT_UNTRUSTED: 'no path to a CA registered on the instance',
  CLIENT_CERT_PROFILE: 'the chain breaks the client certificate profile',
  CERT_EXPIRED: 'a certificate on the path is expired or not yet valid',
  CA_INACTIVE: 'the chain leads to a registered CA that is INACTIVE',
}

function entryDetail(entry: { id: string; kind: string; value: string; instanceId?: string; reason?: string; expiresAt?: string }): string {
  const scope = entry.instanceId === undefined ? 'global' : `instance ${entry.instanceId}`
  return `blacklist entry ${entry.id} (${entry.kind} ${entry.value}, ${scope}${entry.reason !== undefined ? `, reason: ${entry.reason}` : ''}${entry.expiresAt !== undefined ? `, until ${entry.expiresAt}` : ''})`
}

function describeSubject(subject: BlacklistSubject): string {
  const parts = Object.entries(subject as Record<string, string | undefined>).filter(([k, v]) => k !== 'instanceId' && v !== undefined).map(([k, v]) => `${k} ${k === 'username' && (v ?? '').length > 40 ? `${(v ?? '').slice(0, 40)}…` : v ?? ''}`)
  return parts.length === 0 ? 'the client' : parts.join(', ')
}

import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Config } from './config/schema'
import type { Logger } from './observability/logger'
import type { InstanceService } from './instances/instance-service'
import type { RegistrationCodes } from './ca/registration-codes'
import type { CaRegistry } from './ca/ca-registry'
import { createVerificationCertificate } from './ca/pki'
import { isPortcullisError } from './errors'
import type { AuditLog } from './audit/audit-log'

export const DEMO_INSTANCE = 'demo'

export interface DemoInfo {
  instanceId: string
  /** A command line that publishes through the gateway with the dev client certificate. */
  publishCommand: string
  subscribeCommand: string
}

/**
 * `npm start` on a fresh machine (config `demo: true`): a demo MQTT instance on the embedded
 * broker, with the dev CA registered through the same registration-code flow an operator uses
 * (code → verification certificate signed by the CA key → register), so the demo exercises the
 * real path rather than a shortcut.
 */
export async function setUpDemo(ctx: {
  config: Config
  instances: InstanceService
  codes: RegistrationCodes
  cas: CaRegistry
  audit: AuditLog
  logger: Logger
}): Promise<DemoInfo> {
  const { config, instances, codes, cas, audit, logger } = ctx
  const existing = await instances.get(DEMO_INSTANCE).catch((err: unknown) => {
    if (isPortcullisError(err, 'NOT_FOUND')) return undefined
    throw err
  })
  if (existing === undefined) {
    await instances.create({
      id: DEMO_INSTANCE, protocol: 'mqtt', hostnames: ['localhost', 'demo.portcullis.local'], backend: { kind: 'embedded' },
    })
    audit.record({ type: 'admin.instance.create', outcome: 'success', instanceId: DEMO_INSTANCE, actor: { kind: 'system', id: 'demo' }, details: {} })
  }
  const dir = config.tls.devCertsDir
  const ca = { cert: readFileSync(join(dir, 'ca.pem'), 'utf8'), key: readFileSync(join(dir, 'ca.key'), 'utf8') }
  if ((await cas.list(DEMO_INSTANCE)).length === 0) {
    const { registrationCode } = await codes.issue(DEMO_INSTANCE)
    const verification = await createVerificationCertificate({ registrationCode, ca })
    await cas.register(DEMO_INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert })
    audit.record({ type: 'admin.ca.register', outcome: 'success', instanceId: DEMO_INSTANCE, actor: { kind: 'system', id: 'demo' }, details: { subject: 'dev CA' } })
    logger.info({ instance: DEMO_INSTANCE }, 'demo CA registered')
  }
  const mqtt = config.listeners.find((l) => l.protocol === 'mqtt')
  const port = mqtt?.port ?? 8883
  const abs = (f: string): string => resolve(dir, f)
  const tlsArgs = `-h localhost -p ${port} --cafile ${abs('server-ca.pem')} --cert ${abs('client.pem')} --key ${abs('client.key')}`
  return {
    instanceId: DEMO_INSTANCE,
    publishCommand: `mosquitto_pub ${tlsArgs} -i demo-device -t demo/hello -m 'hello through portcullis' -d`,
    subscribeCommand: `mosquitto_sub ${tlsArgs} -i demo-watcher -t 'demo/#' -v`,
  }
}

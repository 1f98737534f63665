import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { buildAdminContext, type AdminContext } from '../../src/admin/context'
import { createAdminServer } from '../../src/admin/server'
import { signRequest } from '../../src/admin/signing'
import { AuditLog } from '../../src/audit/audit-log'
import { AccessKeyService } from '../../src/auth/access-keys'
import { loadMasterKey, type MasterKeyring } from '../../src/auth/master-key'
import { SecurityTokens } from '../../src/auth/security-tokens'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { BlacklistService } from '../../src/blacklist/blacklist-service'
import { CaRegistry } from '../../src/ca/ca-registry'
import { DeviceRegistry } from '../../src/ca/device-registry'
import { RegistrationCodes } from '../../src/ca/registration-codes'
import { InstanceService } from '../../src/instances/instance-service'
import { createLogger, type Logger } from '../../src/observability/logger'
import { Metrics } from '../../src/observability/metrics'
import { SessionRegistry } from '../../src/proxy/session-registry'
import { EmbeddedStore } from '../../src/store/embedded'
// tap declares its Test type in a global `tap` namespace; this import loads it.
import type {} from 'tap'

/**
 * A real admin server for tests: embedded store in a temp directory, the real CA and device
 * registries, an audit log without sinks (events are read back with `recent`), a root key, a
 * master key generated in the temp directory (instances seal their secrets with it), and the
 * AccessKey, static account and security token services. The context comes from
 * buildAdminContext, as in src/gateway.ts: only the root key (ROOT) signs admin requests.
 */
export const ROOT = { accessKeyId: 'PCROOTTEST', accessKeySecret: 'root-secret-for-tests' }

export interface AdminHarness {
  app: FastifyInstance
  ctx: AdminContext
  store: EmbeddedStore
  audit: AuditLog
  sessions: SessionRegistry
  keyring: MasterKeyring
  accessKeys: AccessKeyService
  staticAccounts: StaticAccountService
  tokens: SecurityTokens
  blacklist: BlacklistService
  dataDir: string
  call(method: string, url: string, body?: unknown, key?: { accessKeyId: string; accessKeySecret: string }): Promise<LightMyRequestResponse>
}

export interface AdminHarnessOptions {
  maxAdminBodyBytes?: number
  logger?: Logger
}

export async function adminHarness(t: tap.Test, opts: AdminHarnessOptions = {}): Promise<AdminHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-admin-'))
  const store = await EmbeddedStore.open({ dataDir: join(dir, 'store') })
  const keyring = await loadMasterKey({ dataDir: join(dir, 'keys') })
  const accessKeys = new AccessKeyService(store, keyring)
  const staticAccounts = new StaticAccountService(store, accessKeys)
  const tokens = new SecurityTokens(keyring, accessKeys)
  const blacklist = new BlacklistService(store)
  const audit = new AuditLog({ sinks: [] })
  const codes = new RegistrationCodes(store)
  const sessions = new SessionRegistry()
  const ctx = buildAdminContext({
    store,
    instances: new InstanceService(store, { keyring }),
    cas: new CaRegistry(store, codes),
    devices: new DeviceRegistry(store),
    codes,
    accessKeys,
    staticAccounts,
    tokens,
    blacklist,
    audit,
    metrics: new Metrics(),
    sessions: { list: (filter) => sessions.list(filter), kick: (connId, reason) => sessions.kick(connId, reason) },
    logger: opts.logger ?? createLogger({ level: 'silent' }),
    rootAccessKey: ROOT,
    limits: { maxAdminBodyBytes: opts.maxAdminBodyBytes ?? 1024 * 1024 },
  })
  const app = createAdminServer(ctx)
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await audit.close()
    accessKeys.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const call: AdminHarness['call'] = (method, url, body, key = ROOT) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = signRequest({ method, url, body: payload ?? '', ...key })
    if (payload !== undefined) headers['content-type'] = 'application/json'
    return app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) })
  }
  return { app, ctx, store, audit, sessions, keyring, accessKeys, staticAccounts, tokens, blacklist, dataDir: join(dir, 'store'), call }
}

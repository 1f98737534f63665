import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance, FastifyPluginAsync, LightMyRequestResponse } from 'fastify'
import { AccountService } from '../../src/accounts/account-service'
import { PolicyService } from '../../src/accounts/policy-service'
import { buildAdminContext, type AdminContext } from '../../src/admin/context'
import { createAdminServer, v1Routes } from '../../src/admin/server'
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
 * AccessKey, static account, security token, account and policy services. The context comes
 * from buildAdminContext, as in src/gateway.ts: the root key (ROOT) and the keys of the root
 * account may do everything, any other key what its policies allow.
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
  accounts: AccountService
  policies: PolicyService
  /** Admin authorization decisions as counted through `ctx.authorizationDecisions`. */
  decisions: Array<{ action: string; allowed: boolean }>
  dataDir: string
  call(method: string, url: string, body?: unknown, key?: { accessKeyId: string; accessKeySecret: string }): Promise<LightMyRequestResponse>
}

export interface AdminHarnessOptions {
  maxAdminBodyBytes?: number
  logger?: Logger
  /** More /v1 route plugins after the real ones (the route-registration guard's tests). */
  extraRoutes?: (ctx: AdminContext) => FastifyPluginAsync[]
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
  const accounts = new AccountService(store)
  const policies = new PolicyService(store, accounts)
  const decisions: AdminHarness['decisions'] = []
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
    accounts,
    policies,
    authorizationDecisions: (action, allowed) => decisions.push({ action, allowed }),
    audit,
    metrics: new Metrics(),
    sessions: { list: (filter) => sessions.list(filter), kick: (connId, reason) => sessions.kick(connId, reason) },
    logger: opts.logger ?? createLogger({ level: 'silent' }),
    rootAccessKey: ROOT,
    limits: { maxAdminBodyBytes: opts.maxAdminBodyBytes ?? 1024 * 1024 },
  })
  const app = createAdminServer(ctx, { routes: [...v1Routes(ctx), ...(opts.extraRoutes?.(ctx) ?? [])] })
  t.teardown(async () => {
    await app.close()
    await audit.close()
    accessKeys.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  await app.ready()
  const call: AdminHarness['call'] = (method, url, body, key = ROOT) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = signRequest({ method, url, body: payload ?? '', ...key })
    if (payload !== undefined) headers['content-type'] = 'application/json'
    return app.inject({ method: method as 'GET', url, headers, ...(payload !== undefined ? { payload } : {}) })
  }
  return { app, ctx, store, audit, sessions, keyring, accessKeys, staticAccounts, tokens, blacklist, accounts, policies, decisions, dataDir: join(dir, 'store'), call }
}

export type SigningKey = { accessKeyId: string; accessKeySecret: string }

/**
 * Creates account `accountId` (under `parentId`, when given; skipped for `root`) and an AccessKey
 * in it, both signed by ROOT; answers the key. For authorization tests: a key whose grants are
 * exactly the policies the test attaches.
 */
export async function accountKey(h: AdminHarness, accountId: string, parentId?: string): Promise<SigningKey> {
  if (accountId !== 'root') {
    const made = await h.call('POST', '/v1/accounts', { id: accountId, ...(parentId !== undefined ? { parentId } : {}) })
    if (made.statusCode !== 201 && made.json().code !== 'ALREADY_EXISTS') throw new Error(`account ${accountId}: ${made.body}`)
  }
  const key = await h.call('POST', '/v1/access-keys', { accountId })
  if (key.statusCode !== 201) throw new Error(`AccessKey in ${accountId}: ${key.body}`)
  return key.json() as SigningKey
}

/** PUTs policy `name` with `statements` and attaches it to `principal`, signed by ROOT. */
export async function grant(h: AdminHarness, name: string, principal: string, statements: unknown[]): Promise<void> {
  const put = await h.call('PUT', `/v1/policies/${encodeURIComponent(name)}`, { statements })
  if (put.statusCode !== 201 && put.statusCode !== 200) throw new Error(`policy ${name}: ${put.body}`)
  const attached = await h.call('POST', `/v1/policies/${encodeURIComponent(name)}/attachments`, { principal })
  if (attached.statusCode !== 201 && attached.statusCode !== 200) throw new Error(`attach ${name} to ${principal}: ${attached.body}`)
}

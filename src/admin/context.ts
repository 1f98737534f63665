import type { Logger } from 'pino'
import type { AccountService } from '../accounts/account-service'
import type { PolicyService } from '../accounts/policy-service'
import type { AuditEvent, AuditInput } from '../audit/event'
import type { AccessKeyService } from '../auth/access-keys'
import type { SecurityTokens } from '../auth/security-tokens'
import type { StaticAccountService } from '../auth/static-accounts'
import type { BlacklistService } from '../blacklist/blacklist-service'
import type { RecentFilter } from '../audit/recent-ring'
import type { AuditQuery } from '../audit/query'
import type { CaRegistry } from '../ca/ca-registry'
import type { DeviceRegistry } from '../ca/device-registry'
import type { RegistrationCodes } from '../ca/registration-codes'
import type { ConnId } from '../ids'
import type { AdminAction } from '../policy/authorization/types'
import type { InstanceService } from '../instances/instance-service'
import type { SessionView } from '../proxy/session-registry'
import type { KickReason } from '../reasons'
import type { Store } from '../store/store'
import type { ErrorCode } from '../errors'
import { adminAuthorizer, type AdminAuthorizer } from './authorization/authorizer'
import { adminKeyResolver } from './key-resolver'
import type { RefusalAuditOptions } from './refusal-audit'
import type { RootAccessKey } from './root-key'
import type { KeyControl } from './routes/keys'
import type { AdmissionDeps } from './routes/explain'
import type { KeyResolver } from './signing'

/**
 * Everything the admin API works with, handed in by the composition root (src/gateway.ts). The
 * admin layer owns no state of its own: tests build this with a real store in a temp directory.
 * Build it with buildAdminContext, which both the gateway and the test harness call.
 */
export interface AdminContext {
  store: Store
  instances: InstanceService
  cas: CaRegistry
  devices: DeviceRegistry
  codes: RegistrationCodes
  /** `/v1/accounts` (DESIGN §4); `withAccount` and `isWithin` serve AccessKey creation and the escalation guards. */
  accounts: Pick<AccountService, 'create' | 'list' | 'get' | 'delete' | 'withAccount' | 'isWithin'>
  /** `/v1/policies` and their attachments (DESIGN §4); `documentsFor` serves the admin authorizer. */
  policies: Pick<PolicyService, 'put' | 'list' | 'get' | 'delete' | 'attach' | 'detach' | 'attachments' | 'detachEverywhere' | 'documentsFor'>
  /** `/v1/access-keys` (DESIGN §3); secrets are returned by `create` only. */
  accessKeys: Pick<AccessKeyService, 'create' | 'list' | 'get' | 'setStatus' | 'delete' | 'secretOf'>
  /** `/v1/instances/{id}/static-accounts` (CreateAccount, DESIGN §1). */
  staticAccounts: Pick<StaticAccountService, 'create' | 'list' | 'delete'>
  /** `/v1/access-keys/{id}/security-tokens` (STS userName variant, DESIGN §1). */
  tokens: Pick<SecurityTokens, 'issue'>
  /** `/v1/blacklist` (DESIGN §1 "Account blacklist"); the data path reads the store itself. */
  blacklist: Pick<BlacklistService, 'add' | 'list' | 'get' | 'remove'>
  audit: AuditRecorder
  metrics: MetricsRenderer
  sessions: SessionControl
  logger: Logger
  /** Finds a key that signs admin requests (key-resolver.ts). */
  keyResolver: KeyResolver
  /** Decides what a verified key may do (src/admin/authorization/). */
  authorize: AdminAuthorizer
  /**
   * Counts each admin authorization decision; the composition root wires it to
   * `portcullis_authorization_decisions_total{protocol="admin",action,result}`.
   */
  authorizationDecisions?: (action: AdminAction, allowed: boolean) => void
  limits: { maxAdminBodyBytes: number }
  /** `GET /readyz`: whether the gateway can serve, and why not; default: the store answers a ping. */
  ready?: () => Promise<Readiness>
  /**
   * `GET /v1/audit` and `GET /v1/audit/stream` (DESIGN §3): the Redis stream of every replica when
   * a redis-stream sink is configured (createAuditQuery). Default: this process's `audit` ring.
   */
  auditQuery?: AuditQuery
  /** `GET /v1/keys`, `POST /v1/keys/rotate` (routes/keys.ts); absent without a gateway (NOT_FOUND). */
  keys?: KeyControl
  /** `POST /v1/explain` (routes/explain.ts): the data path's deciders; absent without a gateway (NOT_FOUND). */
  admission?: AdmissionDeps
  /** Aggregation of `admin.request.refused` events (default: per source and code per 60 s). */
  refusedRequestAudit?: RefusalAuditOptions
  /** SSE tuning of `/v1/audit/stream` (default: heartbeat 15 s, 1 MiB unsent per reader). */
  auditStream?: { heartbeatMs?: number; maxBufferedBytes?: number }
}

/** What buildAdminContext needs: the services, and the root AccessKey instead of a resolver and authorizer. */
export type AdminContextParts = Omit<AdminContext, 'keyResolver' | 'authorize'> & {
  rootAccessKey: Pick<RootAccessKey, 'accessKeyId' | 'accessKeySecret'>
}

/**
 * The one place that decides which keys sign admin requests and what they may do; src/gateway.ts
 * and the test harness both build their AdminContext here so they cannot drift. Every Active
 * AccessKey signs; the root AccessKey and the keys of the `root` account may do everything, any
 * other key what its policies allow (src/admin/authorization/authorizer.ts).
 */
export function buildAdminContext(parts: AdminContextParts): AdminContext {
  const { rootAccessKey, ...rest } = parts
  return {
    ...rest,
    keyResolver: adminKeyResolver(rootAccessKey, rest.accessKeys),
    authorize: adminAuthorizer({ rootAccessKeyId: rootAccessKey.accessKeyId, store: rest.store, policies: rest.policies }),
  }
}

/**
 * What `GET /readyz` answers: 200, or 503 with `code` (STORE_UNAVAILABLE: the store does not
 * answer; STORE_RESYNCING: it answers, but this replica's view of it is not fresh yet).
 */
export type Readiness = { readonly ready: true } | { readonly ready: false; readonly code: ErrorCode }

/** The part of AuditLog the admin API uses (record never throws, DESIGN §3 "Audit events"). */
export interface AuditRecorder {
  record(input: AuditInput): AuditEvent | void
  recent?(filter: RecentFilter): AuditEvent[]
  /** Live events, for `/v1/audit/stream` when no `auditQuery` is given. */
  subscribe?(listener: (event: AuditEvent) => void): () => void
}

export interface MetricsRenderer {
  readonly contentType: string
  render(): Promise<string>
}

/**
 * Live sessions, as the data path's session registry offers them (`GET/DELETE /v1/connections`).
 * Either side may be async: with several replicas, listing and kicking go through the store's
 * broadcast channel.
 */
export interface SessionControl {
  list(filter: { instanceId?: string }): SessionView[] | Promise<SessionView[]>
  /** True when the session was found (on this or another replica) and told to close. */
  kick(connId: ConnId, reason: KickReason): boolean | Promise<boolean>
}

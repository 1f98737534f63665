import { isPortcullisError } from '../errors'
import { tunnelAdmits } from '../policy/tunnel'
import type { AccessKeyService } from '../auth/access-keys'
import type { StaticAccountService } from '../auth/static-accounts'
import type { DeviceRecord } from '../store/records'
import type { KickReason, RefusalReason } from '../reasons'
import type { BlacklistCache } from './blacklist-cache'
import type { DeviceCache } from './device-cache'
import type { InstanceDirectory } from './instance-directory'
import type { TrustIndexCache } from './trust-cache'
import type { CaTrustIndex } from '../ca/chain'
import type { SessionIdentity, SessionView } from './session-registry'
import type { AuthorizationService } from '../authorization/authorization-service'
import { decidedBy } from '../authorization/explain'
import { blacklistSubject } from './session-subject'

/** A rule a session no longer meets: the kick for a live session, the refusal for one still in its handshake. */
export interface Breach {
  readonly kick: KickReason
  readonly refusal: RefusalReason
  readonly detail: string
}

export interface SessionRulesDeps {
  directory: Pick<InstanceDirectory, 'get'>
  blacklist: Pick<BlacklistCache, 'current'>
  trust: Pick<TrustIndexCache, 'forInstance'> & Partial<Pick<TrustIndexCache, 'cached'>>
  devices: Pick<DeviceCache, 'get'> & Partial<Pick<DeviceCache, 'peek'>>
  accessKeys: Pick<AccessKeyService, 'secretOf'>
  staticAccounts: Pick<StaticAccountService, 'find'>
  authorization: Pick<AuthorizationService, 'connect' | 'enforces'>
}

/**
 * One re-evaluation of a session against every rule that admitted it: its instance and tunnel
 * rule, the blacklist, its credential's expiry, its authorization (DESIGN §4: `mqtt:Connect` /
 * `amqp:Connect` under the policies as they are now, and a live session admitted without
 * enforcement once its instance enforces), its CA and device certificate state, its AccessKey and
 * static account. The same function serves three callers (session-recheck.ts): the
 * last stage before the splice (for changes made while the connection waited on its broker),
 * every change notification, and every live session after a store reconnect.
 *
 * Reads go through the data path's caches, kept exact by change notifications, so a recheck
 * normally costs no store round trip. A check that cannot be made (the store does not answer)
 * throws: the caller retries it, and never takes it for a pass.
 */
export class SessionRules {
  constructor(private readonly deps: SessionRulesDeps) {}

  async evaluate(s: SessionIdentity | SessionView, now = Date.now()): Promise<Breach | undefined> {
    return await this.evaluateNow(s, now)
  }

  /**
   * The same evaluation, answered synchronously when the caches hold everything it reads (an MQTT
   * device whose CA index and device record are in memory: every connection after a device's
   * first), so that the last stage before the splice costs no promise hop; a promise otherwise.
   */
  evaluateNow(s: SessionIdentity | SessionView, now = Date.now()): Breach | undefined | Promise<Breach | undefined> {
    const immediate = this.synchronousRules(s, now)
    if (immediate !== undefined) return immediate
    const certificate = this.certificateRulesFromMemory(s)
    if (certificate === ASK_THE_STORE) return this.certificateRules(s).then((b) => b ?? this.credentialRules(s))
    if (certificate !== undefined) return certificate
    return s.accessKeyId === undefined ? undefined : this.credentialRules(s)
  }

  /** The rules the caches answer at once. */
  private synchronousRules(s: SessionIdentity | SessionView, now: number): Breach | undefined {
    const instance = this.deps.directory.get(s.instanceId)
    if (instance === undefined) return breach('ADMIN_KICK', 'UNKNOWN_INSTANCE', `instance ${s.instanceId} no longer exists`)
    if (!tunnelAdmits(instance, s.vpcId)) {
      return breach('TUNNEL_POLICY_CHANGED', 'TUNNEL_DENIED', `instance ${s.instanceId} no longer admits ${s.vpcId ?? 'a public network'}`)
    }
    const entry = this.deps.blacklist.current().match(blacklistSubject(s), now)
    if (entry !== undefined) return breach('BLACKLISTED', 'BLACKLISTED', `blacklist entry ${entry.id} (${entry.kind})`)
    if (s.credentialExpiresAt !== undefined && Date.parse(s.credentialExpiresAt) <= now) {
      return breach('CREDENTIAL_EXPIRED', 'CREDENTIAL_EXPIRED', `credential expired at ${s.credentialExpiresAt}`)
    }
    return this.authorizationRules(s)
  }

  private authorizationRules(s: SessionIdentity | SessionView): Breach | undefined {
    // A live session spliced without filters cannot be enforced afterwards: it ends, and its
    // client reconnects into an enforced session.
    if ('connId' in s && s.enforced !== true && this.deps.authorization.enforces(s.instanceId)) {
      return breach('AUTHORIZATION_ENFORCED', 'NOT_AUTHORIZED', `instance ${s.instanceId} now enforces authorization`)
    }
    // An AMQP client is decided on its vhost, known from its Open on (stages/backend.ts).
    if (s.protocol === 'amqp' && s.vhost === undefined) return undefined
    const decision = this.deps.authorization.connect(s)
    if (decision === undefined || decision.allowed) return undefined
    const action = s.protocol === 'mqtt' ? 'mqtt:Connect' : 'amqp:Connect'
    return breach('NOT_AUTHORIZED', 'NOT_AUTHORIZED', `${action} is no longer allowed${decidedBy(decision)}`)
  }

  private async certificateRules(s: SessionIdentity): Promise<Breach | undefined> {
    if (s.caId !== undefined) {
      const caBreach = caRule(s.caId, await this.deps.trust.forInstance(s.instanceId))
      if (caBreach !== undefined) return caBreach
    }
    return s.deviceId === undefined ? undefined : deviceRule(await this.deps.devices.get(s.instanceId, s.deviceId))
  }

  /** certificateRules from the caches alone, or ASK_THE_STORE when one of them does not hold what it reads. */
  private certificateRulesFromMemory(s: SessionIdentity): Breach | undefined | typeof ASK_THE_STORE {
    if (s.caId !== undefined) {
      const index = this.deps.trust.cached?.(s.instanceId)
      if (index === undefined) return ASK_THE_STORE
      const caBreach = caRule(s.caId, index)
      if (caBreach !== undefined) return caBreach
    }
    if (s.deviceId === undefined) return undefined
    // Absence is not cached (device-cache.ts): a device not in memory is asked for.
    const device = this.deps.devices.peek?.(s.instanceId, s.deviceId)
    return device === undefined ? ASK_THE_STORE : deviceRule(device)
  }

  private async credentialRules(s: SessionIdentity): Promise<Breach | undefined> {
    if (s.accessKeyId === undefined) return undefined
    if (!(await this.accessKeyActive(s.accessKeyId))) {
      return breach('ACCESS_KEY_DISABLED', 'ACCESS_KEY_INACTIVE', `AccessKey ${s.accessKeyId} is disabled or deleted`)
    }
    if (s.account !== undefined) {
      const account = await this.deps.staticAccounts.find(s.instanceId, s.accessKeyId)
      if (account === undefined || account.userName !== s.account) {
        return breach('STATIC_ACCOUNT_DELETED', 'BAD_CREDENTIALS', `static account of AccessKey ${s.accessKeyId} on ${s.instanceId} was deleted`)
      }
    }
    return undefined
  }

  private async accessKeyActive(accessKeyId: string): Promise<boolean> {
    try {
      return (await this.deps.accessKeys.secretOf(accessKeyId)) !== undefined
    } catch (err) {
      if (isPortcullisError(err, 'ACCESS_KEY_INACTIVE')) return false
      throw err
    }
  }
}

const ASK_THE_STORE = Symbol('ask the store')

function caRule(caId: string, index: Pick<CaTrustIndex, 'recordOf'>): Breach | undefined {
  const ca = index.recordOf(caId)
  if (ca === undefined || ca.status !== 'ACTIVE') return breach('CA_DEACTIVATED', 'CA_INACTIVE', `CA ${caId} is ${ca?.status ?? 'deleted'}`)
  return undefined
}

function deviceRule(device: DeviceRecord | undefined): Breach | undefined {
  const state = device === undefined ? 'REVOKED' : device.status
  return state === 'ACTIVE' ? undefined : deviceBreach(state, device === undefined ? 'deleted' : state)
}

function breach(kick: KickReason, refusal: RefusalReason, detail: string): Breach {
  return { kick, refusal, detail }
}

function deviceBreach(state: Exclude<DeviceRecord['status'], 'ACTIVE'>, what: string): Breach {
  const reason = state === 'INACTIVE' ? 'DEVICE_CERT_INACTIVE' : 'DEVICE_CERT_REVOKED'
  return breach(reason, reason, `device certificate is ${what}`)
}

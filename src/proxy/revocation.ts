import type { Store, ChangeEvent } from '../store/store'
import { GLOBAL_SCOPE, type BlacklistRecord, type CaRecord, type DeviceRecord, type InstanceRecord } from '../store/records'
import { tunnelAdmits } from '../policy/tunnel'
import { BlacklistIndex, type BlacklistSubject } from '../policy/blacklist'
import { credentialKickFor, selects } from '../auth/revocations'
import type { TrustIndexCache } from './trust-cache'
import type { DeviceCache } from './device-cache'
import type { KickReason } from '../reasons'
import type { SessionRegistry, SessionView } from './session-registry'

/**
 * Turns record changes into kicks, on every replica (the store delivers each change to every
 * process that shares it). Deactivating a CA closes the sessions anchored on it; deactivating or
 * revoking a device certificate closes that device's sessions; disabling or deleting an AccessKey
 * closes its AMQP sessions, deleting a static account those logged in with it; a change of an
 * instance's tunnel rule closes the sessions it no longer admits, and deleting an instance all of
 * them; a new blacklist entry closes what it matches. Nothing else is touched.
 */
export class RevocationWatcher {
  private readonly unsubscribe: () => void

  constructor(
    private readonly store: Store,
    private readonly sessions: SessionRegistry,
    private readonly caches: { trust: Pick<TrustIndexCache, 'forInstance'>; devices: Pick<DeviceCache, 'get'> },
  ) {
    this.unsubscribe = store.onChange((event) => this.apply(event))
  }

  /**
   * Closes the gap between a session's checks and its registration: a change that landed in
   * between was not seen by `apply`, so the session's CA and device are read again once it is
   * registered. The caches are as fresh as `apply` (the same notifications update them before any
   * later one is delivered), so they answer without a store round trip.
   */
  async recheck(view: SessionView): Promise<void> {
    if (view.caId !== undefined) {
      const ca = (await this.caches.trust.forInstance(view.instanceId)).recordOf(view.caId)
      if (ca === undefined || ca.status !== 'ACTIVE') this.sessions.kick(view.connId, 'CA_DEACTIVATED')
    }
    if (view.accessKeyId !== undefined) {
      const key = await this.store.get('accessKeys', GLOBAL_SCOPE, view.accessKeyId)
      if (key === undefined || key.status !== 'Active') this.sessions.kick(view.connId, 'ACCESS_KEY_DISABLED')
    }
    if (view.account !== undefined && view.accessKeyId !== undefined) {
      const account = await this.store.get('staticAccounts', view.instanceId, view.accessKeyId)
      if (account === undefined || account.userName !== view.account) this.sessions.kick(view.connId, 'STATIC_ACCOUNT_DELETED')
    }
    if (view.deviceId !== undefined) {
      const device = await this.caches.devices.get(view.instanceId, view.deviceId)
      const reason = device === undefined ? 'DEVICE_CERT_REVOKED' : deviceKick(device)
      if (reason !== undefined) this.sessions.kick(view.connId, reason)
    }
  }

  /**
   * Every live session checked again against the current records, the tunnel rule and the
   * blacklist: after change notifications may have been missed, a kick that should have happened
   * happens now.
   */
  async recheckAll(instanceOf: (id: string) => InstanceRecord | undefined, blacklist: BlacklistIndex): Promise<void> {
    const now = Date.now()
    for (const view of this.sessions.list()) {
      const instance = instanceOf(view.instanceId)
      if (instance === undefined) this.sessions.kick(view.connId, 'ADMIN_KICK')
      else if (!tunnelAdmits(instance, view.vpcId)) this.sessions.kick(view.connId, 'TUNNEL_POLICY_CHANGED')
      else if (blacklist.match(subjectOf(view), now) !== undefined) this.sessions.kick(view.connId, 'BLACKLISTED')
      else await this.recheck(view)
    }
  }

  /** A blacklist entry was added or changed: close the live sessions it now matches. */
  blacklisted(record: BlacklistRecord): void {
    const index = BlacklistIndex.build([record])
    const now = Date.now()
    this.sessions.kickWhere((s) => index.match(subjectOf(s), now) !== undefined, 'BLACKLISTED')
  }

  close(): void {
    this.unsubscribe()
  }

  private apply(event: ChangeEvent): void {
    const credentialKick = credentialKickFor(event)
    if (credentialKick !== undefined) {
      this.sessions.kickWhere((s) => selects(credentialKick, s), credentialKick.reason)
      return
    }
    switch (event.collection) {
      case 'cas': {
        const ca = event.record as CaRecord
        if (event.op === 'delete' || ca.status !== 'ACTIVE') {
          this.sessions.kickWhere((s) => s.instanceId === event.scope && s.caId === event.id, 'CA_DEACTIVATED')
        }
        return
      }
      case 'devices': {
        const reason = event.op === 'delete' ? 'DEVICE_CERT_REVOKED' : deviceKick(event.record as DeviceRecord)
        if (reason !== undefined) {
          this.sessions.kickWhere((s) => s.instanceId === event.scope && s.deviceId === event.id, reason)
        }
        return
      }
      case 'instances': {
        if (event.op === 'delete') {
          this.sessions.kickWhere((s) => s.instanceId === event.id, 'ADMIN_KICK')
          return
        }
        // Switching the access type or the bound VPC applies at once (DESIGN §1): sessions the
        // new rule would refuse are closed.
        const instance = event.record as InstanceRecord
        this.sessions.kickWhere((s) => s.instanceId === event.id && !tunnelAdmits(instance, s.vpcId), 'TUNNEL_POLICY_CHANGED')
        return
      }
      default:
        return
    }
  }
}

function subjectOf(s: SessionView): BlacklistSubject {
  const out: BlacklistSubject = { instanceId: s.instanceId, ip: s.sourceIp }
  if (s.accessKeyId !== undefined) out.accessKeyId = s.accessKeyId
  if (s.account !== undefined) out.account = s.account
  if (s.username !== undefined) out.username = s.username
  if (s.clientId !== undefined) out.clientId = s.clientId
  if (s.deviceId !== undefined) out.certFingerprint = s.deviceId
  return out
}

function deviceKick(device: DeviceRecord): KickReason | undefined {
  switch (device.status) {
    case 'ACTIVE':
      return undefined
    case 'INACTIVE':
      return 'DEVICE_CERT_INACTIVE'
    case 'REVOKED':
      return 'DEVICE_CERT_REVOKED'
  }
}

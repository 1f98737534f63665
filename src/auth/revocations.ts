/**
 * Which live AMQP sessions a credential change ends (DESIGN §1: "a static user stops working when
 * its AccessKey is disabled or deleted"; kick reasons ACCESS_KEY_DISABLED, STATIC_ACCOUNT_DELETED
 * in DESIGN §3). New logins are refused by the authenticator as soon as the change is stored;
 * this covers sessions that were already spliced. Pure: the data path subscribes to
 * store.onChange (every replica sees every change) and kicks what the selector selects.
 */
import type { KickReason } from '../reasons'
import type { ChangeEvent } from '../store/store'

export interface CredentialKick {
  reason: Extract<KickReason, 'ACCESS_KEY_DISABLED' | 'STATIC_ACCOUNT_DELETED'>
  /** Every field given must equal the session's. */
  select: { protocol: 'amqp'; accessKeyId: string; instanceId?: string; account?: string }
}

export interface KickableSession {
  protocol: 'mqtt' | 'amqp'
  instanceId: string
  accessKeyId?: string
  account?: string
}

export function credentialKickFor(event: ChangeEvent): CredentialKick | undefined {
  if (event.collection === 'accessKeys') {
    const record = event.record as ChangeEvent<'accessKeys'>['record']
    const disabled = event.op === 'delete' || (record.status === 'Inactive' && (event.previous as typeof record | undefined)?.status !== 'Inactive')
    return disabled ? { reason: 'ACCESS_KEY_DISABLED', select: { protocol: 'amqp', accessKeyId: event.id } } : undefined
  }
  if (event.collection === 'staticAccounts' && event.op === 'delete') {
    const record = event.record as ChangeEvent<'staticAccounts'>['record']
    return {
      reason: 'STATIC_ACCOUNT_DELETED',
      select: { protocol: 'amqp', accessKeyId: record.accessKeyId, instanceId: record.instanceId, account: record.userName },
    }
  }
  return undefined
}

export function selects(kick: CredentialKick, session: KickableSession): boolean {
  const s = kick.select
  return session.protocol === s.protocol
    && session.accessKeyId === s.accessKeyId
    && (s.instanceId === undefined || session.instanceId === s.instanceId)
    && (s.account === undefined || session.account === s.account)
}

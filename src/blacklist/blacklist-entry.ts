import { SocketAddress } from 'node:net'
import { z } from 'zod'
import { PortcullisError } from '../errors'
import { INSTANCE_ID } from '../instances/instance-schema'
import { normalise } from '../policy/blacklist'
import type { BlacklistRecord } from '../store/records'
import { AddressSet } from '../tunnel/cidr'

/**
 * What a blacklist entry may say (DESIGN §3 `POST /v1/blacklist` `{kind, value, instanceId?,
 * reason?, expiresAt?}`) and how a value is put into the one form the data path compares
 * (policy/blacklist.ts `normalise`). Pure: no store, no clock other than the `now` handed in.
 */
export type BlacklistKind = BlacklistRecord['kind']
export const BLACKLIST_KINDS = ['accessKey', 'account', 'username', 'clientId', 'certFingerprint', 'ip'] as const satisfies readonly BlacklistKind[]

/**
 * Caps. An MQTT username or client id may be up to 65535 bytes on the wire (MQTT 5 §1.5.4), but
 * an entry that long is a mistake, not a ban: 1024 characters covers every identity Portcullis
 * issues or reads (AMQP userNames are Base64 of ~100 bytes; AccessKey ids 24).
 */
export const MAX_VALUE_LENGTH = 1024
export const MAX_REASON_LENGTH = 512

/** Shape and caps; the checks that depend on the kind or on the clock are in `checkEntry`. */
export const blacklistAddSchema = z.strictObject({
  kind: z.enum(BLACKLIST_KINDS),
  // U+0000 can never occur in an MQTT or AMQP identity (MQTT 5 §1.5.4 [MQTT-1.5.4-2]).
  value: z.string().min(1).max(MAX_VALUE_LENGTH).refine((s) => !s.includes('\u0000'), { message: 'must not contain U+0000' }),
  instanceId: z.string().regex(INSTANCE_ID, 'not an instance id').optional(),
  reason: z.string().max(MAX_REASON_LENGTH).refine((s) => !/[\u0000-\u001f\u007f]/.test(s), { message: 'must not contain control characters' }).optional(),
  expiresAt: z.iso.datetime({ offset: true }).optional(),
})
export type BlacklistAddInput = z.infer<typeof blacklistAddSchema>

/** The entry as the API answers it: the record plus whether it has stopped applying. */
export interface BlacklistEntryView extends BlacklistRecord {
  expired: boolean
}

export function isExpired(record: BlacklistRecord, nowMs: number): boolean {
  // Same rule as BlacklistIndex.match: an entry applies while expiresAt is strictly in the future.
  return record.expiresAt !== undefined && Date.parse(record.expiresAt) <= nowMs
}

export function entryView(record: BlacklistRecord, nowMs: number): BlacklistEntryView {
  return { ...record, expired: isExpired(record, nowMs) }
}

/**
 * The value in the form stored and matched. ip: the address in Node's canonical text (so that
 * `2001:DB8:0::1` matches the `2001:db8::1` a socket reports) then `normalise` (IPv4-mapped
 * IPv6 as IPv4), and it must parse as an address or CIDR. certFingerprint: 64 hex digits once
 * colons and case are gone (the device id, DESIGN §3). Other kinds compare exactly.
 */
export function canonicalValue(kind: BlacklistKind, value: string): string {
  switch (kind) {
    case 'ip':
      return canonicalIp(value)
    case 'certFingerprint': {
      const hex = normalise(kind, value)
      if (!/^[0-9a-f]{64}$/.test(hex)) invalid('a certFingerprint is the SHA-256 of the certificate DER: 64 hex digits, colons allowed')
      return hex
    }
    case 'accessKey':
    case 'account':
    case 'username':
    case 'clientId':
      return normalise(kind, value)
  }
}

function canonicalIp(value: string): string {
  const [address = '', prefix, ...extra] = value.split('/')
  let text: string
  try {
    // A zone id (fe80::1%eth0) names an interface of this host, not a client: refused, not dropped.
    if (extra.length > 0 || address.includes('%')) throw new Error('not an address')
    const family = address.includes(':') ? 'ipv6' : 'ipv4'
    text = new SocketAddress({ address, family }).address + (prefix === undefined ? '' : `/${prefix}`)
  } catch {
    return invalid(`ip must be an IPv4/IPv6 address or CIDR range, not ${JSON.stringify(value)}`)
  }
  const canonical = normalise('ip', text)
  try {
    AddressSet.parse([canonical])
  } catch (err) {
    // `::ffff:10.0.0.0/104` became `10.0.0.0/104` above: a mapped range is written in IPv4 form.
    const hint = canonical === text ? '' : '; write an IPv4-mapped range as the IPv4 range it covers'
    return invalid(`ip must be an IPv4/IPv6 address or CIDR range (${(err as Error).message})${hint}`)
  }
  return canonical
}

/** expiresAt as ISO 8601 UTC; it must lie in the future (an entry born expired would ban no one). */
export function canonicalExpiry(expiresAt: string, nowMs: number): string {
  const ms = Date.parse(expiresAt)
  if (Number.isNaN(ms)) invalid(`expiresAt is not an ISO 8601 time: ${expiresAt}`)
  if (ms <= nowMs) invalid(`expiresAt ${expiresAt} is not in the future`)
  return new Date(ms).toISOString()
}

function invalid(message: string): never {
  throw new PortcullisError('VALIDATION_FAILED', message)
}

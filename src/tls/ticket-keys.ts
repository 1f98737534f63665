import type { MasterKey } from '../keys/master-key'

/** How long one set of ticket keys is used before the next epoch's replaces it. */
export const TICKET_EPOCH_MS = 60 * 60_000

/**
 * TLS session ticket keys (48 bytes: name, HMAC and AES keys, as OpenSSL wants them) derived from
 * the master key and the current hour. Every worker and every replica holding the same master key
 * derives the same keys without talking to each other, so a device resumes its session on
 * whichever process its reconnect lands; the keys change every hour, so a stolen ticket key
 * decrypts at most an hour of tickets.
 */
export function ticketKeysFor(masterKey: MasterKey, nowMs: number): Buffer {
  const epoch = Math.floor(nowMs / TICKET_EPOCH_MS)
  return masterKey.derive(Buffer.from('portcullis tls session tickets'), `epoch ${epoch}`, 48)
}

/** Milliseconds until the next epoch starts. */
export function untilNextEpoch(nowMs: number): number {
  return TICKET_EPOCH_MS - (nowMs % TICKET_EPOCH_MS)
}

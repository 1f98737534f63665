/**
 * Every reason code Portcullis puts on a refusal or a kick. One list, reused verbatim as the audit
 * event `reason`, the metric label and the log field (DESIGN §3). docs/reason-codes.md documents
 * each one; test/unit/reasons.test.ts keeps the two in step.
 */
export const REFUSAL_REASONS = [
  'TLS_HANDSHAKE_FAILED',
  'CLIENT_CERT_MISSING',
  'CLIENT_CERT_UNTRUSTED',
  'CLIENT_CERT_PROFILE',
  'CERT_EXPIRED',
  'CA_INACTIVE',
  'DEVICE_CERT_INACTIVE',
  'DEVICE_CERT_REVOKED',
  'UNKNOWN_INSTANCE',
  'TUNNEL_DENIED',
  'PROXY_HEADER_INVALID',
  'PROXY_HEADER_UNTRUSTED',
  'BLACKLISTED',
  'BAD_CREDENTIALS',
  'CREDENTIAL_EXPIRED',
  'ACCESS_KEY_INACTIVE',
  'PROTOCOL_ERROR',
  'HANDSHAKE_TIMEOUT',
  'BACKEND_UNAVAILABLE',
  'RATE_LIMITED',
  'CONNECTION_LIMIT',
  'ILLEGAL_STATE',
  'NOT_AUTHORIZED',
] as const

export const KICK_REASONS = [
  'CA_DEACTIVATED',
  'DEVICE_CERT_REVOKED',
  'DEVICE_CERT_INACTIVE',
  'BLACKLISTED',
  'ACCESS_KEY_DISABLED',
  'STATIC_ACCOUNT_DELETED',
  'TUNNEL_POLICY_CHANGED',
  'ADMIN_KICK',
  'SHUTDOWN',
  'CREDENTIAL_EXPIRED',
  'RECHECK_FAILED',
  'NOT_AUTHORIZED',
  'AUTHORIZATION_ENFORCED',
] as const

export type RefusalReason = (typeof REFUSAL_REASONS)[number]
export type KickReason = (typeof KICK_REASONS)[number]
/**
 * Why a live session ended without a kick: one side closed, a socket error, or one side stopped
 * reading (SLOW_CONSUMER: a paused direction did not drain within `limits.slowConsumerTimeoutMs`).
 */
export type CloseCause = 'CLIENT_CLOSED' | 'BACKEND_CLOSED' | 'SOCKET_ERROR' | 'IDLE' | 'SLOW_CONSUMER' | 'PROTOCOL_ERROR' | 'NOT_AUTHORIZED'
export type Reason = RefusalReason | KickReason

/**
 * Portcullis reason codes (src/reasons.ts) → what an MQTT client is told.
 *
 *  refusal reason                                   CONNACK 3.1/3.1.1   CONNACK 5.0
 *  BAD_CREDENTIALS, CREDENTIAL_EXPIRED              0x04                0x86 bad user name or password
 *  BLACKLISTED                                      0x05                0x8A banned
 *  BACKEND_UNAVAILABLE, RATE_LIMITED,
 *    CONNECTION_LIMIT                               0x03                0x88 server unavailable
 *  PROTOCOL_ERROR                                   (close, no code)    0x81 malformed packet
 *  HANDSHAKE_TIMEOUT                                (close: no CONNECT was read, so no version)
 *  everything else (TLS, certificates, CA, device,
 *    instance, tunnel, PROXY header, AccessKey,
 *    NOT_AUTHORIZED: mqtt:Connect denied)          0x05                0x87 not authorized
 *
 * RATE_LIMITED and CONNECTION_LIMIT are answered "server unavailable" rather than "not
 * authorized": the client is not at fault and should retry later, which is what 0x03/0x88 say.
 *
 *  kick reason (MQTT 5 server DISCONNECT, §3.14.2.1)
 *  SHUTDOWN → 0x8B server shutting down; ADMIN_KICK → 0x98 administrative action;
 *  every credential/certificate/policy change (NOT_AUTHORIZED, AUTHORIZATION_ENFORCED…) → 0x87 not authorized (0x8A banned exists only in
 *  CONNACK). 3.x clients get no DISCONNECT; the connection is closed.
 */
import { assertNever } from '../../errors'
import type { KickReason, RefusalReason } from '../../reasons'
import { DISCONNECT_REASON_CODES_V5, encodeConnack, encodeDisconnect } from './connack'
import type { ConnackRefusal, DisconnectReasonCode } from './connack'
import type { ProtocolVersion } from './connect-layout'

/** The CONNACK refusal for a reason, or undefined when the connection is closed without one. */
export function connackRefusalFor(reason: RefusalReason): ConnackRefusal | undefined {
  switch (reason) {
    case 'BAD_CREDENTIALS':
    case 'CREDENTIAL_EXPIRED':
      return 'BAD_CREDENTIALS'
    case 'BLACKLISTED':
      return 'BANNED'
    case 'BACKEND_UNAVAILABLE':
    case 'RATE_LIMITED':
    case 'CONNECTION_LIMIT':
      return 'SERVER_UNAVAILABLE'
    case 'PROTOCOL_ERROR':
      return 'PROTOCOL_ERROR'
    case 'HANDSHAKE_TIMEOUT':
    case 'ILLEGAL_STATE':
      return undefined
    case 'TLS_HANDSHAKE_FAILED':
    case 'CLIENT_CERT_MISSING':
    case 'CLIENT_CERT_UNTRUSTED':
    case 'CLIENT_CERT_PROFILE':
    case 'CERT_EXPIRED':
    case 'CA_INACTIVE':
    case 'DEVICE_CERT_INACTIVE':
    case 'DEVICE_CERT_REVOKED':
    case 'UNKNOWN_INSTANCE':
    case 'TUNNEL_DENIED':
    case 'PROXY_HEADER_INVALID':
    case 'PROXY_HEADER_UNTRUSTED':
    case 'ACCESS_KEY_INACTIVE':
    case 'NOT_AUTHORIZED':
      return 'NOT_AUTHORIZED'
    default:
      return assertNever(reason, 'refusal reason')
  }
}

/**
 * The CONNACK bytes to send for a refusal, or undefined when the caller should just close
 * (3.x protocol errors have no return code [MQTT-4.8.0-1]; a timeout has no CONNECT to answer).
 */
export function connackFor(
  protocolVersion: ProtocolVersion,
  reason: RefusalReason,
  reasonString?: string,
  maximumPacketSize?: number,
): Buffer | undefined {
  const refusal = connackRefusalFor(reason)
  if (refusal === undefined) return undefined
  return encodeConnack(protocolVersion, refusal, reasonString, maximumPacketSize)
}

/**
 * A kick that lands before the broker's CONNACK reached the client: the gateway refuses the
 * CONNECT itself, in the client's version, with the code closest to the kick.
 */
export function connackForKick(protocolVersion: ProtocolVersion, reason: KickReason, maximumPacketSize?: number): Buffer | undefined {
  return encodeConnack(protocolVersion, connackRefusalForKick(reason), reason, maximumPacketSize)
}

function connackRefusalForKick(reason: KickReason): ConnackRefusal {
  switch (reason) {
    case 'BLACKLISTED':
      return 'BANNED'
    case 'SHUTDOWN':
    case 'RECHECK_FAILED':
      return 'SERVER_UNAVAILABLE'
    case 'CREDENTIAL_EXPIRED':
    case 'STATIC_ACCOUNT_DELETED':
      return 'BAD_CREDENTIALS'
    case 'CA_DEACTIVATED':
    case 'DEVICE_CERT_REVOKED':
    case 'DEVICE_CERT_INACTIVE':
    case 'ACCESS_KEY_DISABLED':
    case 'TUNNEL_POLICY_CHANGED':
    case 'ADMIN_KICK':
    case 'NOT_AUTHORIZED':
    case 'AUTHORIZATION_ENFORCED':
      return 'NOT_AUTHORIZED'
    default:
      return assertNever(reason, 'kick reason')
  }
}

export function disconnectReasonFor(reason: KickReason): DisconnectReasonCode {
  switch (reason) {
    case 'SHUTDOWN':
      return DISCONNECT_REASON_CODES_V5.SERVER_SHUTTING_DOWN
    case 'ADMIN_KICK':
      return DISCONNECT_REASON_CODES_V5.ADMINISTRATIVE_ACTION
    case 'CA_DEACTIVATED':
    case 'DEVICE_CERT_REVOKED':
    case 'DEVICE_CERT_INACTIVE':
    case 'BLACKLISTED':
    case 'ACCESS_KEY_DISABLED':
    case 'STATIC_ACCOUNT_DELETED':
    case 'TUNNEL_POLICY_CHANGED':
    case 'CREDENTIAL_EXPIRED':
    case 'NOT_AUTHORIZED':
    case 'AUTHORIZATION_ENFORCED':
      return DISCONNECT_REASON_CODES_V5.NOT_AUTHORIZED
    case 'RECHECK_FAILED':
      return DISCONNECT_REASON_CODES_V5.SERVER_BUSY
    default:
      return assertNever(reason, 'kick reason')
  }
}

/** The DISCONNECT bytes for a kick (MQTT 5), or undefined for 3.x: just close. */
export function disconnectFor(
  protocolVersion: ProtocolVersion,
  reason: KickReason,
  reasonString?: string,
  maximumPacketSize?: number,
): Buffer | undefined {
  return encodeDisconnect(protocolVersion, disconnectReasonFor(reason), reasonString, maximumPacketSize)
}

import type { RefusalReason } from '../../reasons'
import { REPLY_CODES } from '../../protocols/amqp/reply-codes'
import { AmqpFrameBoundary } from '../frame-boundary'
import type { ProtocolAdapter } from './adapter'
import { amqpClose } from './amqp-close'

/**
 * AMQP 0-9-1 words for Portcullis decisions. Refusals after Connection.Start are a
 * Connection.Close: 403 `ACCESS_REFUSED - <reason>` for every identity and policy reason (DESIGN
 * §2), 320 `CONNECTION_FORCED - BACKEND_UNAVAILABLE` when the broker cannot be reached (the client
 * may retry later, §1.2 "connection-forced"). Kicks are a 320 Close naming the kick reason, written
 * between two frames of the broker's stream. The reply text names the reason code only, never the
 * detail (which stays in the audit event).
 */
export const amqpAdapter: ProtocolAdapter = {
  async refusalReply(conn, reason) {
    if (conn.amqp?.startSent !== true) return undefined
    return closeFor(reason)
  },

  farewell() {
    return (reason) => amqpClose(REPLY_CODES.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`)
  },

  frameBoundary() {
    return new AmqpFrameBoundary()
  },

  identity(conn) {
    const out: ReturnType<ProtocolAdapter['identity']> = {}
    const subject = conn.amqp?.subject
    if (subject !== undefined) {
      out.accessKeyId = subject.accessKeyId
      out.username = subject.username
      if (subject.account !== undefined) out.account = subject.account
    }
    if (conn.source.vpcId !== undefined) out.vpcId = conn.source.vpcId
    return out
  },

  actor(conn) {
    const out: Record<string, string> = {}
    const subject = conn.amqp?.subject
    if (subject !== undefined) {
      out.accessKeyId = subject.accessKeyId
      out.authKind = subject.kind
      if (subject.account !== undefined) out.account = subject.account
    } else if (conn.amqp?.claimedAccessKeyId !== undefined) {
      out.accessKeyId = conn.amqp.claimedAccessKeyId
    }
    return out
  },
}

function closeFor(reason: RefusalReason): Buffer | undefined {
  switch (reason) {
    case 'HANDSHAKE_TIMEOUT':
      return undefined
    case 'BACKEND_UNAVAILABLE':
    case 'RATE_LIMITED':
    case 'CONNECTION_LIMIT':
      return amqpClose(REPLY_CODES.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`)
    default:
      return amqpClose(REPLY_CODES.ACCESS_REFUSED, `ACCESS_REFUSED - ${reason}`)
  }
}

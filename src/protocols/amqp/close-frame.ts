import type { RefusalReason } from '../../reasons'
import { encodeMethodFrame } from './methods'
import { REPLY_CODES } from './reply-codes'

/** Connection.Close on channel 0 (AMQP 0-9-1 §2.3.7); class/method 0 = not caused by a method. */
export function amqpClose(replyCode: number, replyText: string): Buffer {
  return encodeMethodFrame({ name: 'connection.close', replyCode, replyText: replyText.slice(0, 255), classId: 0, methodId: 0 })
}

/**
 * The Connection.Close refusing a client for a reason (DESIGN §2): 403 `ACCESS_REFUSED - <reason>`
 * for every identity and policy reason, 320 `CONNECTION_FORCED - <reason>` when the client may
 * retry later (AMQP 0-9-1 §1.2 "connection-forced"), none for a timeout (nobody is listening).
 * The text names the reason code only, never the detail, which stays in the audit event.
 */
export function closeFor(reason: RefusalReason): Buffer | undefined {
  switch (reason) {
    case 'HANDSHAKE_TIMEOUT':
    case 'ILLEGAL_STATE':
      return undefined
    case 'BACKEND_UNAVAILABLE':
    case 'RATE_LIMITED':
    case 'CONNECTION_LIMIT':
      return amqpClose(REPLY_CODES.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`)
    default:
      return amqpClose(REPLY_CODES.ACCESS_REFUSED, `ACCESS_REFUSED - ${reason}`)
  }
}

import { encodeMethodFrame } from '../../protocols/amqp/methods'

/** Connection.Close on channel 0 (AMQP 0-9-1 §2.3.7); class/method 0 = not caused by a method. */
export function amqpClose(replyCode: number, replyText: string): Buffer {
  return encodeMethodFrame({ name: 'connection.close', replyCode, replyText: replyText.slice(0, 255), classId: 0, methodId: 0 })
}

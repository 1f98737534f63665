/**
 * The gateway's own Channel frames (AMQP 0-9-1 §2.3.7, XML class channel):
 *
 *   Channel.Close (20,40)     short reply-code, shortstr reply-text, short class-id, short method-id
 *   Channel.Close-Ok (20,41)  (no arguments)
 */
import { FRAME_TYPES, encodeFrame } from '../frame-codec'
import { REPLY_CODES } from '../reply-codes'
import { WireWriter } from '../wire'
import type { ResourceAction } from './method-ids'

/** What the gateway tells the broker when it closes a channel for the client (reply 200: not an error of the broker's). */
export const BROKER_CLOSE_TEXT = 'Closed by the Portcullis gateway'

export function channelClose(channel: number, replyCode: number, replyText: string, classId: number, methodId: number): Buffer {
  const payload = new WireWriter()
    .u16(20).u16(40)
    .u16(replyCode)
    .shortstr(truncate(replyText))
    .u16(classId).u16(methodId)
    .toBuffer()
  return encodeFrame(FRAME_TYPES.METHOD, channel, payload)
}

export function channelCloseOk(channel: number): Buffer {
  return encodeFrame(FRAME_TYPES.METHOD, channel, Buffer.from([0, 20, 0, 41]))
}

/** Step 2 of a refusal: the broker's side of the channel, closed as a normal close. */
export function brokerChannelClose(channel: number, action: ResourceAction): Buffer {
  return channelClose(channel, REPLY_CODES.REPLY_SUCCESS, `${BROKER_CLOSE_TEXT}: NOT_AUTHORIZED ${action}`, 0, 0)
}

/** Step 3: the client hears the channel exception of a denied method (DESIGN §4 "Enforcement"). */
export function refusalChannelClose(channel: number, action: ResourceAction, classId: number, methodId: number): Buffer {
  return channelClose(channel, REPLY_CODES.ACCESS_REFUSED, `ACCESS_REFUSED - NOT_AUTHORIZED ${action}`, classId, methodId)
}

function truncate(text: string): string {
  let out = text.slice(0, 0xff)
  while (Buffer.byteLength(out, 'utf8') > 0xff) out = out.slice(0, -1)
  return out
}

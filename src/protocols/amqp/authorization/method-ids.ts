/**
 * The AMQP 0-9-1 methods the authorization filters read (class and method ids from the 0-9-1 XML;
 * Exchange.Bind/Unbind are RabbitMQ's extension, same numbering). A method frame's payload starts
 * with class-id (u16) and method-id (u16) (§4.2.4); `methodKey` packs the two into one number so
 * that the filters compare one integer per frame.
 */
import type { AmqpAction } from '../../../policy/authorization/types'

export const methodKey = (classId: number, methodId: number): number => classId * 0x10000 + methodId

export const METHODS = {
  CHANNEL_CLOSE: methodKey(20, 40),
  CHANNEL_CLOSE_OK: methodKey(20, 41),
  EXCHANGE_DECLARE: methodKey(40, 10),
  EXCHANGE_DELETE: methodKey(40, 20),
  EXCHANGE_BIND: methodKey(40, 30),
  EXCHANGE_UNBIND: methodKey(40, 40),
  QUEUE_DECLARE: methodKey(50, 10),
  QUEUE_BIND: methodKey(50, 20),
  QUEUE_PURGE: methodKey(50, 30),
  QUEUE_DELETE: methodKey(50, 40),
  QUEUE_UNBIND: methodKey(50, 50),
  BASIC_CONSUME: methodKey(60, 20),
  BASIC_CONSUME_OK: methodKey(60, 21),
  BASIC_CANCEL: methodKey(60, 30),
  BASIC_PUBLISH: methodKey(60, 40),
  BASIC_GET: methodKey(60, 70),
} as const

/** The client methods decided before they reach the broker, with the action each one needs. */
export type ResourceAction = Exclude<AmqpAction, 'amqp:Connect'>

const DECIDED: ReadonlyMap<number, ResourceAction> = new Map<number, ResourceAction>([
  [METHODS.BASIC_PUBLISH, 'amqp:Publish'],
  [METHODS.BASIC_CONSUME, 'amqp:Consume'],
  [METHODS.BASIC_GET, 'amqp:Consume'],
  [METHODS.QUEUE_DECLARE, 'amqp:Declare'],
  [METHODS.QUEUE_BIND, 'amqp:Bind'],
  [METHODS.QUEUE_UNBIND, 'amqp:Bind'],
  [METHODS.QUEUE_PURGE, 'amqp:Purge'],
  [METHODS.QUEUE_DELETE, 'amqp:Delete'],
  [METHODS.EXCHANGE_DECLARE, 'amqp:Declare'],
  [METHODS.EXCHANGE_DELETE, 'amqp:Delete'],
  [METHODS.EXCHANGE_BIND, 'amqp:Bind'],
  [METHODS.EXCHANGE_UNBIND, 'amqp:Bind'],
])

/** The action a client method is decided on, or undefined for a method that passes undecided. */
export function decidedAction(key: number): ResourceAction | undefined {
  return DECIDED.get(key)
}

export const classOf = (key: number): number => Math.floor(key / 0x10000)
export const methodOf = (key: number): number => key % 0x10000

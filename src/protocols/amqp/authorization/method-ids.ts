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

/**
 * The action a client method is decided on, or undefined for a method that passes undecided.
 * Asked of every method frame a client sends: a switch, Basic.Publish (one per message) first.
 */
export function decidedAction(key: number): ResourceAction | undefined {
  switch (key) {
    case METHODS.BASIC_PUBLISH: return 'amqp:Publish'
    case METHODS.BASIC_CONSUME:
    case METHODS.BASIC_GET: return 'amqp:Consume'
    case METHODS.QUEUE_DECLARE:
    case METHODS.EXCHANGE_DECLARE: return 'amqp:Declare'
    case METHODS.QUEUE_BIND:
    case METHODS.QUEUE_UNBIND:
    case METHODS.EXCHANGE_BIND:
    case METHODS.EXCHANGE_UNBIND: return 'amqp:Bind'
    case METHODS.QUEUE_PURGE: return 'amqp:Purge'
    case METHODS.QUEUE_DELETE:
    case METHODS.EXCHANGE_DELETE: return 'amqp:Delete'
    default: return undefined
  }
}

export const classOf = (key: number): number => Math.floor(key / 0x10000)
export const methodOf = (key: number): number => key % 0x10000

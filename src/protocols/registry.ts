import type { AnyProtocolModule } from '../proxy/lifecycle/protocol'
import type { ProtocolName } from './names'
import { mqttProtocol } from './mqtt/module'
import { amqpProtocol } from './amqp/module'

/**
 * Every protocol the gateway speaks, by the name listeners and instances use. Adding one is a
 * directory under src/protocols/ exporting a ProtocolModule, its name in names.ts and a line here.
 */
export const PROTOCOLS: Readonly<Record<ProtocolName, AnyProtocolModule>> = {
  mqtt: mqttProtocol,
  amqp: amqpProtocol,
}

import { longstr, table, type FieldTable } from '../field-table'
import { capabilitiesTable, type BehaviourCapability } from './pool-key'

/**
 * The Start-Ok client-properties of a pooled connection. It logs in before its client exists, so
 * it cannot carry the client's own (product, version, connection_name — the broker's management
 * view shows the gateway instead). It carries:
 * - `product`/`information`: the gateway, so an operator sees where the connection comes from;
 * - `capabilities`: exactly the key's set (pool-key.ts), which is what the broker acts on;
 * - `portcullis.pool_connection_id` (and the gateway `process_id`): the name under which the
 *   client's audit events (actor `backendConnection`) and `rabbitmqctl list_connections
 *   client_properties` meet, as `portcullis.connection_id` does on the cold path.
 * No `connection_name`: RabbitMQ logs a line for every connection that sends one.
 */
export function pooledClientProperties(poolConnectionId: string, processId: string, capabilities: readonly BehaviourCapability[]): FieldTable {
  return new Map([
    ['product', longstr('Portcullis')],
    ['information', longstr('Portcullis warm pool connection, logged in ahead of its client')],
    ['capabilities', capabilitiesTable(capabilities)],
    ['portcullis', table([
      ['pool_connection_id', longstr(poolConnectionId)],
      ['process_id', longstr(processId)],
    ])],
  ])
}

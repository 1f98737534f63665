import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startPinned, waitForPort, type ServerProcess } from './child'

export interface Broker extends ServerProcess {
  port: number
}

/**
 * The bench's own Mosquitto, pinned to the server core, so that every endpoint talks to one
 * isolated broker (the system service on 1883 is shared and unpinned). Defaults are kept
 * (max_queued_messages 1000, …): the QoS0 loss a slow subscriber causes is part of what is
 * compared. TCP_NODELAY is on, as HAProxy and Node set it. Connection messages are off so that the connection-rate runs do not measure logging.
 */
export async function startMosquitto(dir: string, core: number): Promise<Broker> {
  const port = await freePort()
  const conf = join(dir, 'mosquitto.conf')
  writeFileSync(conf, [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous true',
    'persistence false',
    'connection_messages false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'max_connections -1',
    // Without it Mosquitto's Nagle + the client's delayed ACK add tens of ms to a round trip.
    'set_tcp_nodelay true',
    '',
  ].join('\n'))
  const server = await startPinned({
    name: 'mosquitto', core, command: 'mosquitto', args: ['-c', conf],
    ready: { probe: () => waitForPort('127.0.0.1', port) },
  })
  return { ...server, port }
}

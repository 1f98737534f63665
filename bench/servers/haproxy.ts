import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startPinned, waitForPort, type ServerProcess } from './child'

export interface HaproxyPorts {
  /** MQTT, TLS with client certificates required (`verify required`). */
  mqttMtls: number
  /** MQTT, TLS without client certificates. */
  mqttTls: number
  /** AMQP, TLS without client certificates (AMQP clients authenticate with credentials). */
  amqpTls: number
}

export interface Haproxy extends ServerProcess {
  ports: HaproxyPorts
  version: string
}

export const HAPROXY_INSTALL = 'apt-get install -y haproxy'

/** The `haproxy` binary's version line, or undefined when it is not installed. */
export function haproxyVersion(): string | undefined {
  try {
    return execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0]?.trim()
  } catch {
    return undefined
  }
}

export interface HaproxyFiles {
  /** Server certificate and its key in one PEM, as `bind … ssl crt` wants. */
  serverPem: string
  clientCaPem: string
}

/**
 * Debian's HAProxy terminating the same TLS in front of the same brokers (issue 5 §1 b): `mode
 * tcp`, one thread (`nbthread 1`) mapped to the server core (`cpu-map`, and `taskset` too), as
 * issue 5 §3 asks. maxconn follows the file-descriptor limit: two descriptors per proxied
 * connection.
 */
export async function startHaproxy(o: {
  dir: string
  core: number
  files: HaproxyFiles
  mqttBackendPort: number
  amqpBackendPort: number
  maxconn: number
}): Promise<Haproxy> {
  const ports: HaproxyPorts = { mqttMtls: await freePort(), mqttTls: await freePort(), amqpTls: await freePort() }
  const cfg = join(o.dir, 'haproxy.cfg')
  writeFileSync(cfg, [
    'global',
    '  nbthread 1',
    `  cpu-map 1/1 ${o.core}`,
    `  maxconn ${o.maxconn}`,
    '  ssl-default-bind-options ssl-min-ver TLSv1.2',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 1h',
    '  timeout server 1h',
    `  maxconn ${o.maxconn}`,
    'frontend mqtt_mtls',
    `  bind 127.0.0.1:${ports.mqttMtls} ssl crt ${o.files.serverPem} ca-file ${o.files.clientCaPem} verify required`,
    '  default_backend mosquitto',
    'frontend mqtt_tls',
    `  bind 127.0.0.1:${ports.mqttTls} ssl crt ${o.files.serverPem}`,
    '  default_backend mosquitto',
    'frontend amqp_tls',
    `  bind 127.0.0.1:${ports.amqpTls} ssl crt ${o.files.serverPem}`,
    '  default_backend rabbitmq',
    'backend mosquitto',
    `  server mosquitto 127.0.0.1:${o.mqttBackendPort}`,
    'backend rabbitmq',
    `  server rabbitmq 127.0.0.1:${o.amqpBackendPort}`,
    '',
  ].join('\n'))
  const server = await startPinned({
    name: 'haproxy', core: o.core, command: 'haproxy', args: ['-f', cfg, '-db'],
    ready: {
      probe: async () => {
        for (const port of Object.values(ports)) await waitForPort('127.0.0.1', port)
      },
    },
  })
  return { ...server, ports, version: haproxyVersion() ?? 'haproxy' }
}

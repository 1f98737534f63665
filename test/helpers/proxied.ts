/**
 * MQTT clients that reach the gateway through a "load balancer": a TCP socket that first sends a
 * PROXY protocol header, then TLS over the same socket — what HAProxy or a cloud LB does.
 */
import { connect as netConnect } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import { MqttClient } from 'mqtt'
import type { KeyAndCert } from '../../src/ca/pki'
import { unique } from './gateway'

export interface ProxiedOptions {
  port: number
  header: Buffer
  servername: string
  serverCa: string
  cert: KeyAndCert
  protocolVersion?: 4 | 5
}

/** Resolves with a connected client, or rejects with the refusal (CONNACK code or TLS error). */
export function connectProxied(o: ProxiedOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = new MqttClient(() => {
      const raw = netConnect({ host: '127.0.0.1', port: o.port })
      raw.write(o.header)
      return tlsConnect({ socket: raw, servername: o.servername, ca: o.serverCa, cert: o.cert.cert, key: o.cert.key })
    }, {
      reconnectPeriod: 0, connectTimeout: 5000, clientId: unique('proxied'), protocolVersion: o.protocolVersion ?? 4,
    })
    client.once('connect', () => resolve(client))
    client.once('error', (err) => { client.end(true); reject(err) })
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

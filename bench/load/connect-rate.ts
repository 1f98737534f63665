import type { TLSSocket } from 'node:tls'
import { AmqpSession } from './amqp-session'
import { MqttSession } from './mqtt-session'
import { ConnectTemplate } from './mqtt-wire'
import { CLIENT_ID_PREFIX } from './names'
import { percentile } from './stats'
import { openSocket, type AmqpAuth, type LoadSocket, type Target } from './target'

/**
 * Connection rate (issue 5 §2): `concurrency` loops, each opening one connection after the other
 * until the window closes. A connection counts when it reaches its goal:
 *   mqtt — TLS handshake (with the client certificate where the target has one) + CONNECT/CONNACK
 *   tls  — the TLS handshake alone
 *   amqp — TLS handshake + AMQP handshake to Connection.Open-Ok
 * With `resume`, each loop offers the last session ticket it received (TLS session resumption).
 * Each connection then says goodbye (DISCONNECT / Connection.Close) without being waited for.
 */
export interface ConnectRateArgs {
  kind: 'mqtt' | 'tls' | 'amqp'
  target: Target
  auth?: AmqpAuth
  resume: boolean
  durationMs: number
  concurrency: number
}

export interface ConnectRateResult {
  connections: number
  failures: number
  firstError?: string
  /** Connections whose TLS session was resumed. */
  resumed: number
  p50Ms?: number
  p99Ms?: number
  elapsedMs: number
}

export async function connectRate(a: ConnectRateArgs): Promise<ConnectRateResult> {
  const template = new ConnectTemplate(`${CLIENT_ID_PREFIX.connect}${process.pid}-`)
  const latencies: number[] = []
  let failures = 0
  let resumed = 0
  let firstError: string | undefined
  let serial = 0
  const started = performance.now()
  const end = started + a.durationMs

  const one = async (session: Buffer | undefined, onSession: (s: Buffer) => void): Promise<void> => {
    const t0 = performance.now()
    const o = { ...(session !== undefined ? { session } : {}), onSession }
    let socket: LoadSocket
    if (a.kind === 'mqtt') {
      const s = await MqttSession.open(a.target, template.encode(serial++), o)
      socket = s.socket
      s.close()
    } else if (a.kind === 'amqp') {
      if (a.auth === undefined) throw new Error('AMQP needs credentials')
      const s = await AmqpSession.open(a.target, a.auth, o)
      socket = s.socket
      s.close()
    } else {
      socket = await openSocket(a.target, o)
      socket.destroy()
    }
    latencies.push(performance.now() - t0)
    if ('isSessionReused' in socket && (socket as TLSSocket).isSessionReused()) resumed++
  }

  await Promise.all(Array.from({ length: a.concurrency }, async () => {
    let session: Buffer | undefined
    while (performance.now() < end) {
      try {
        await one(a.resume ? session : undefined, (s) => { session = s })
      } catch (err) {
        failures++
        firstError ??= err instanceof Error ? err.message : String(err)
        // A refusing endpoint answers fast; do not spin on it.
        await new Promise((r) => setTimeout(r, 5))
      }
    }
  }))
  const p50 = percentile(latencies, 50)
  const p99 = percentile(latencies, 99)
  return {
    connections: latencies.length,
    failures,
    ...(firstError !== undefined ? { firstError } : {}),
    resumed,
    ...(p50 !== undefined ? { p50Ms: p50 } : {}),
    ...(p99 !== undefined ? { p99Ms: p99 } : {}),
    elapsedMs: performance.now() - started,
  }
}

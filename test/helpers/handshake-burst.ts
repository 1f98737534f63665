/**
 * A burst of MQTT devices from a process of its own (so that the clients' TLS work does not run on
 * the event loop of a gateway started in the test's process): every device starts its first
 * attempt at once, each attempt is TLS with the client certificate + CONNECT until CONNACK 0, and a
 * failed attempt is retried after a random pause, as devices do after an outage.
 *
 * Usage: handshake-burst.ts <json args on argv[2]>; prints one JSON line of outcomes and exits.
 */
import { connect as tlsConnect, createSecureContext } from 'node:tls'
import mqttPacket from 'mqtt-packet'

interface Args {
  port: number
  servername: string
  ca: string
  cert: string
  key: string
  devices: number
  /** Stop retrying after this long; devices not connected by then are counted as such. */
  deadlineMs: number
  retryMaxMs: number
}

interface Outcomes {
  connected: number
  attempts: number
  /** Closed by the gateway before any TLS answer: the cheap refusal. */
  refusedBeforeTls: number
  /** Closed after the TLS handshake finished, before CONNACK (a refusal after TLS, or a deadline). */
  closedAfterTls: number
  ms: number
}

const args = JSON.parse(process.argv[2] as string) as Args
const context = createSecureContext({ ca: args.ca, cert: args.cert, key: args.key })
const outcomes: Outcomes = { connected: 0, attempts: 0, refusedBeforeTls: 0, closedAfterTls: 0, ms: 0 }
const started = Date.now()
const sockets = new Set<import('node:tls').TLSSocket>()

function attempt(n: number, resolve: () => void): void {
  outcomes.attempts++
  let secured = false
  let finished = false
  const socket = tlsConnect({ host: '127.0.0.1', port: args.port, servername: args.servername, secureContext: context })
  sockets.add(socket)
  const finish = (connected: boolean): void => {
    if (finished) return
    finished = true
    if (connected) {
      outcomes.connected++
      return resolve()
    }
    socket.destroy()
    sockets.delete(socket)
    if (secured) outcomes.closedAfterTls++
    else outcomes.refusedBeforeTls++
    if (Date.now() - started > args.deadlineMs) return resolve()
    setTimeout(() => attempt(n, resolve), Math.random() * args.retryMaxMs)
  }
  socket.once('secureConnect', () => {
    secured = true
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `burst-${process.pid}-${n}`, clean: true, keepalive: 0 }))
  })
  socket.once('data', (chunk: Buffer) => finish(chunk[0] === 0x20 && chunk[3] === 0))
  socket.once('error', () => finish(false))
  socket.once('close', () => finish(false))
}

void Promise.all(Array.from({ length: args.devices }, (_, n) => new Promise<void>((resolve) => attempt(n, resolve)))).then(() => {
  outcomes.ms = Date.now() - started
  for (const socket of sockets) socket.destroy()
  process.stdout.write(`${JSON.stringify(outcomes)}\n`)
})

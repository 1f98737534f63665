/**
 * The floor Node itself imposes (issue 5: "a naive Node TLS pipe"): the simplest correct TLS
 * proxy Node allows, with none of Portcullis' work (no SNI routing, no protocol parsing, no
 * policy, no audit). It shows how much of Portcullis' cost is Node's TLS and stream machinery
 * and how much is the gateway's own. Like HAProxy it runs as its own process on the server core,
 * with the same certificate files, and exposes the same three ports.
 */
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { createServer, type Server, type TlsOptions } from 'node:tls'
import { startPinned, type ServerProcess } from './child'

export interface NodePipePorts {
  /** MQTT, TLS with client certificates required. */
  mqttMtls: number
  /** MQTT, TLS without client certificates. */
  mqttTls: number
  /** AMQP, TLS without client certificates (AMQP clients authenticate with credentials). */
  amqpTls: number
}

export interface NodePipeConfig {
  serverCertFile: string
  serverKeyFile: string
  clientCaFile: string
  mqttBackendPort: number
  amqpBackendPort: number
  /**
   * The mTLS port also reads the client's certificate (its SHA-256 fingerprint) before it connects
   * to the broker: the least a gateway that knows its devices must do. Timed alone, the first
   * getPeerCertificate of a connection took 100–150 µs here; per connection it measured within the
   * noise (docs/benchmarks.md, "After issue 15"). Off by default: the bench's pipe is the bare
   * floor; `connect-profile --pipe-reads-cert` measures this one beside it.
   */
  readPeerCertificate?: boolean
}

export interface NodePipe extends ServerProcess {
  ports: NodePipePorts
}

const HOST = '127.0.0.1'
/** The line node-pipe-main prints once every port listens; the bench waits for it. */
const READY = /^node-pipe ports (\{.*\})$/m
export const formatReadyLine = (ports: NodePipePorts): string => `node-pipe ports ${JSON.stringify(ports)}`

/** Starts node-pipe-main.js pinned to `core` and reads the ports it printed. */
export async function startNodePipe(o: NodePipeConfig & { core: number; nodeArgs?: readonly string[] }): Promise<NodePipe> {
  const { core, nodeArgs, ...config } = o
  const server = await startPinned({
    name: 'node-pipe', core, command: process.execPath,
    args: [...(nodeArgs ?? []), join(__dirname, 'node-pipe-main.js'), JSON.stringify(config)],
    ready: (out) => READY.test(out),
  })
  const ports = JSON.parse(READY.exec(server.output())?.[1] ?? '{}') as NodePipePorts
  return { ...server, ports }
}

/** The proxy itself, run in the child by node-pipe-main. Resolves once every port listens. */
export async function listenNodePipe(c: NodePipeConfig): Promise<NodePipePorts> {
  const tls: TlsOptions = { cert: readFileSync(c.serverCertFile), key: readFileSync(c.serverKeyFile) }
  const mtls: TlsOptions = { ...tls, ca: readFileSync(c.clientCaFile), requestCert: true, rejectUnauthorized: true }
  const [mqttMtls, mqttTls, amqpTls] = await Promise.all([
    listen(createPipeServer(mtls, c.mqttBackendPort, c.readPeerCertificate === true)),
    listen(createPipeServer(tls, c.mqttBackendPort, false)),
    listen(createPipeServer(tls, c.amqpBackendPort, false)),
  ])
  return { mqttMtls, mqttTls, amqpTls }
}

function createPipeServer(options: TlsOptions, backendPort: number, readPeerCertificate: boolean): Server {
  // A failed handshake destroys its socket (no 'tlsClientError' listener): nothing to log.
  return createServer(options, (client) => {
    if (readPeerCertificate && client.getPeerCertificate(false).fingerprint256 === undefined) {
      client.destroy()
      return
    }
    const backend = connect({ host: HOST, port: backendPort, noDelay: true })
    client.setNoDelay(true)
    splice(client, backend)
  })
}

/**
 * `a.pipe(b); b.pipe(a)`: pipe() handles backpressure and forwards an orderly end. An error on
 * either side destroys both; when one side has closed, the other is closed once what was already
 * written to it has been flushed (destroying it at once could drop a last CONNACK or Close-Ok).
 */
function splice(a: Socket, b: Socket): void {
  const destroyBoth = (): void => {
    a.destroy()
    b.destroy()
  }
  a.on('error', destroyBoth)
  b.on('error', destroyBoth)
  a.once('close', () => closeAfterFlush(b))
  b.once('close', () => closeAfterFlush(a))
  a.pipe(b)
  b.pipe(a)
}

function closeAfterFlush(socket: Socket): void {
  if (!socket.destroyed) socket.end(() => socket.destroy())
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, HOST, () => {
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : 0)
    })
  })
}

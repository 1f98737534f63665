import { NO_INSTANCE } from '../observability/metrics'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { ListenerConfig } from '../config/schema'
import type { PipelineDeps } from './deps'
import { pipelineFor, type Pipeline } from './pipeline'
import { runConnection } from './lifecycle/runner'
import type { AnyProtocolModule } from './lifecycle/protocol'
import { PROTOCOLS } from '../protocols/registry'
import { ignoreSocketError } from './close'
import { reusePortHandle } from './reuse-port'

/**
 * One TCP listener. Each accepted socket runs the pipeline; a connection over
 * `limits.maxConnections` (counted per process, handshaking and forwarding alike) is refused with
 * CONNECTION_LIMIT before a single byte is read, so a flood of half-open sockets costs a file
 * descriptor each and nothing more. On a listener without PROXY protocol the per-source limits
 * (rate, concurrency, failed logins: limits/source-limits.ts) are checked here too, as cheaply.
 */
/**
 * The kernel's accept queue (capped by net.core.somaxconn). Node's default, 511, overflows in a
 * reconnect storm: the kernel then drops the client's handshake ACKs and the client waits, TCP up
 * and ClientHello sent, for a ServerHello that never comes (the bench's `timeout:accept`) — a wait
 * neither served nor refused. A deeper queue hands those connections to the gateway, whose
 * admission refuses the excess at once (RATE_LIMITED, a close before TLS): the client hears "try
 * again" and backs off instead of waiting out its own timeout.
 */
const LISTEN_BACKLOG = 4096

export class Listener {
  private readonly server: Server
  private readonly open = new Set<Socket>()
  private readonly protocol: AnyProtocolModule
  /** Built once per listener: the stage list is plain data that every connection walks. */
  private readonly pipeline: Pipeline

  private constructor(readonly config: ListenerConfig, private readonly deps: PipelineDeps) {
    this.protocol = PROTOCOLS[config.protocol]
    this.pipeline = pipelineFor(this.protocol)
    this.server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket))
  }

  /**
   * `reusePort`: the port this worker shares with the others through a listening socket of its own
   * (SO_REUSEPORT, see reuse-port.ts); without it the listener binds `config.port` as usual.
   */
  static async start(config: ListenerConfig, deps: PipelineDeps, options: { reusePort?: number } = {}): Promise<Listener> {
    const listener = new Listener(config, deps)
    await new Promise<void>((resolve, reject) => {
      const listening = (): void => {
        listener.server.off('error', reject)
        resolve()
      }
      listener.server.once('error', reject)
      if (options.reusePort !== undefined) listener.server.listen(reusePortHandle(config.host, options.reusePort), LISTEN_BACKLOG, listening)
      else listener.server.listen({ port: config.port, host: config.host, backlog: LISTEN_BACKLOG }, listening)
    })
    return listener
  }

  get address(): AddressInfo {
    return this.server.address() as AddressInfo
  }

  get connections(): number {
    return this.open.size
  }

  /** Stops accepting; live sessions are left to the caller (kicked with SHUTDOWN). */
  stopAccepting(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  /** Destroys whatever is still open (after the graceful phase of a shutdown). */
  destroyAll(): void {
    for (const socket of this.open) socket.destroy()
  }

  private accept(socket: Socket): void {
    const maxConnections = this.deps.config.limits.maxConnections
    if (this.open.size >= maxConnections) {
      this.refuseEarly(socket, 'CONNECTION_LIMIT', `${maxConnections} connections open (maxConnections)`)
      return
    }
    const limits = this.deps.connectionLimits
    // Without PROXY protocol the socket's address is the client's: the per-source limits are
    // checked here, before the pipeline exists for this connection (stages/source-limits.ts
    // checks them after the header otherwise).
    if (limits !== undefined && this.config.proxyProtocol.mode === 'off') {
      const refusal = limits.sources.admit(socket, normaliseIp(socket.remoteAddress))
      if (refusal !== undefined) {
        this.refuseEarly(socket, refusal.reason, refusal.detail)
        return
      }
    }
    this.open.add(socket)
    socket.once('close', () => {
      this.open.delete(socket)
      limits?.sources.release(socket)
    })
    // The pipeline's end (spliced or refused) is the end of the handshake: its slot is free again.
    runConnection(socket, this.config, this.protocol, this.pipeline, this.deps).then(
      () => limits?.handshakes.release(socket),
      (err: unknown) => {
        limits?.handshakes.release(socket)
        this.deps.logger.error({ err: err instanceof Error ? err.message : String(err), listener: this.config.name }, 'pipeline crashed; connection dropped')
        socket.destroy()
      },
    )
  }

  /** A refusal before a single byte is read: counted, audited, closed (no protocol words yet). */
  private refuseEarly(socket: Socket, reason: 'CONNECTION_LIMIT' | 'RATE_LIMITED', detail: string): void {
    const protocol = this.config.protocol
    socket.on('error', ignoreSocketError)
    this.deps.metrics.connectionsRejected.inc({ protocol, instance: NO_INSTANCE, reason })
    this.deps.audit.record({
      type: 'connection.rejected', outcome: 'failure', protocol, reason,
      actor: { kind: 'client' }, source: { ip: normaliseIp(socket.remoteAddress), port: socket.remotePort ?? 0 },
      details: { listener: this.config.name, detail },
    })
    socket.destroy()
  }
}

/** IPv4-mapped IPv6 (`::ffff:192.0.2.1`) as the IPv4 address, as the runner records sources. */
function normaliseIp(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

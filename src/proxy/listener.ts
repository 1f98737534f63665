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
 * descriptor each and nothing more.
 */
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
      if (options.reusePort !== undefined) listener.server.listen(reusePortHandle(config.host, options.reusePort), listening)
      else listener.server.listen(config.port, config.host, listening)
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
    if (this.open.size >= this.deps.config.limits.maxConnections) {
      this.refuseOverLimit(socket)
      return
    }
    this.open.add(socket)
    socket.once('close', () => this.open.delete(socket))
    runConnection(socket, this.config, this.protocol, this.pipeline, this.deps).catch((err: unknown) => {
      this.deps.logger.error({ err: err instanceof Error ? err.message : String(err), listener: this.config.name }, 'pipeline crashed; connection dropped')
      socket.destroy()
    })
  }

  private refuseOverLimit(socket: Socket): void {
    const protocol = this.config.protocol
    socket.on('error', ignoreSocketError)
    this.deps.metrics.connectionsRejected.inc({ protocol, instance: NO_INSTANCE, reason: 'CONNECTION_LIMIT' })
    this.deps.audit.record({
      type: 'connection.rejected', outcome: 'failure', protocol, reason: 'CONNECTION_LIMIT',
      actor: { kind: 'client' }, source: { ip: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 },
      details: { listener: this.config.name, limit: this.deps.config.limits.maxConnections },
    })
    socket.destroy()
  }
}

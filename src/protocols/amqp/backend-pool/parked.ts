import type { Socket } from 'node:net'
import { encodeMethodFrame } from '../methods'
import { HandshakeFrames } from '../handshake-frames'
import { ignoreSocketError } from '../../../proxy/close'
import type { TunedBackend } from '../backend-login'
import type { WarmHandshake } from './handed-out'

/** How a retired connection ended: `quiet` = Open/Close as a client would; `refused` = the broker refused the vhost; `cut` = closed without words. */
export type RetireOutcome = 'quiet' | 'refused' | 'cut'

/** Longest a retirement waits for the broker's Open-Ok and Close-Ok before it just closes. */
const RETIRE_DEADLINE_MS = 2_000

/**
 * One backend connection logged in and parked at the broker's Connection.Tune (AMQP 0-9-1
 * §2.2.4). Nothing may arrive while it waits: the broker sends nothing between Tune and the
 * client's Tune-Ok (heartbeats begin after Tune-Ok), so any byte — a Close for its
 * handshake_timeout, a forced close — or an end, error or close makes it `lost`: never handed out.
 * The socket keeps reading while parked (a paused socket would not even notice the peer's FIN).
 */
export class ParkedBackend {
  private state: 'parked' | 'lost' | 'handed-out' | 'retired' = 'parked'

  constructor(
    readonly socket: Socket,
    private readonly tuned: TunedBackend,
    readonly poolConnectionId: string,
    readonly parkedAt: number,
    private readonly maxFrameBytes: number,
    private readonly onLost: (parked: ParkedBackend) => void,
  ) {
    socket.on('error', ignoreSocketError)
    socket.on('data', this.lose)
    socket.once('end', this.lose)
    socket.once('close', this.lose)
  }

  /** Parked, its socket still open both ways, and younger than maxIdleMs. */
  usable(now: number, maxIdleMs: number): boolean {
    const s = this.socket
    return this.state === 'parked' && !s.destroyed && s.readable && s.writable && !s.readableEnded && now - this.parkedAt < maxIdleMs
  }

  /** Stops watching and gives the connection to its one client (the upstream stage). */
  handOver(): WarmHandshake {
    this.state = 'handed-out'
    this.unwatch()
    this.socket.pause()
    return { tuned: this.tuned, poolConnectionId: this.poolConnectionId }
  }

  /**
   * Closes a connection no client will get. A TCP close at this point is logged by RabbitMQ as a
   * warning ("client unexpectedly closed TCP connection") and a Connection.Close before Open as an
   * error ("unexpected method in connection state tuning"), so it finishes the handshake as a
   * client would — Tune-Ok with the broker's own values and no heartbeat, Open on `vhost`, then
   * Close 200 — which the broker logs at info level only. A broker that refuses the vhost, or does
   * not answer in time, gets its connection closed.
   */
  async retire(vhost: string | undefined): Promise<RetireOutcome> {
    const wasParked = this.state === 'parked'
    this.state = 'retired'
    this.unwatch()
    const s = this.socket
    if (!wasParked || vhost === undefined || s.destroyed || !s.writable) {
      s.destroy()
      return 'cut'
    }
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), RETIRE_DEADLINE_MS)
    // What came in the same read as Tune (nothing, from a broker that follows the spec), then the rest.
    const frames = new HandshakeFrames(s, controller.signal, 'backend', this.maxFrameBytes, Buffer.concat(this.tuned.frames.drain()))
    try {
      s.write(encodeMethodFrame({ name: 'connection.tune-ok', ...this.tuned.tune, heartbeat: 0 }))
      s.write(encodeMethodFrame({ name: 'connection.open', virtualHost: vhost, capabilities: '', insist: false }))
      const opened = await frames.next()
      if (opened.name !== 'connection.open-ok') {
        if (opened.name === 'connection.close') s.write(encodeMethodFrame({ name: 'connection.close-ok' }))
        return 'refused'
      }
      s.write(encodeMethodFrame({ name: 'connection.close', replyCode: 200, replyText: 'pooled connection retired', classId: 0, methodId: 0 }))
      const closed = await frames.next()
      return closed.name === 'connection.close-ok' ? 'quiet' : 'cut'
    } catch {
      return 'cut'
    } finally {
      clearTimeout(timer)
      s.destroy()
    }
  }

  private readonly lose = (): void => {
    if (this.state !== 'parked') return
    this.state = 'lost'
    this.unwatch()
    this.socket.destroy()
    this.onLost(this)
  }

  private unwatch(): void {
    this.socket.off('data', this.lose)
    this.socket.off('end', this.lose)
    this.socket.off('close', this.lose)
  }
}

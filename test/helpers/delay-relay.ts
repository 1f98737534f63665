/**
 * A slow broker for tests: a TCP relay on 127.0.0.1:0 that, for each connection it accepts, waits
 * `delayMs` before it connects to the target and then pipes bytes both ways. Used as an instance's
 * backend so that "the connection waits on its broker" lasts long enough for a test to change a
 * rule meanwhile.
 *
 * What the gateway sees during the delay depends on the protocol it speaks to its backend:
 * - plain TCP: the TCP connect completes at once (the kernel accepts it), then nothing comes back
 *   until the delay ends. An AMQP gateway waits for the broker's Connection.Start, so it waits
 *   here; an MQTT gateway splices at once (it waits for no broker byte before the splice).
 * - `tls`: the relay answers the backend TLS handshake only after the delay (the ClientHello sits
 *   unread until then), so a gateway that connects to its backend over TLS waits in its upstream
 *   connect. This is how to make an MQTT gateway wait on its broker before the splice. The relay
 *   is then the TLS server: give the instance `backend.tls: {ca: <issuer of tls.cert>, servername}`.
 *
 * Every accepted connection is recorded (`connections`, `nextConnection()`) with the times the
 * test needs: when the gateway reached the relay and when the relay's delay ended.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls'

export interface DelayRelayOptions {
  target: { host: string; port: number }
  delayMs: number
  /** Terminate TLS (this key and certificate) after the delay, before the bytes go on in clear. */
  tls?: { key: string; cert: string }
}

export interface RelayConnection {
  /** Date.now() when the relay accepted the gateway's TCP connection. */
  acceptedAt: number
  /** acceptedAt + delayMs: when the relay starts connecting to the target. */
  delayEndsAt: number
  /** Date.now() when the relay's connection towards the target was up and piping (if it got there). */
  pipedAt?: number
  /** Date.now() when the gateway's side of this connection closed (if it has). */
  closedAt?: number
  /** Resolves when piping starts; rejects if the connection ends first. */
  piped: Promise<void>
}

export interface DelayRelay {
  host: string
  port: number
  delayMs: number
  /** Every connection accepted so far, in order. */
  readonly connections: readonly RelayConnection[]
  /** The oldest accepted connection no earlier call has answered (already accepted or the next one). */
  nextConnection(timeoutMs?: number): Promise<RelayConnection>
  close(): Promise<void>
}

export async function startDelayRelay(options: DelayRelayOptions): Promise<DelayRelay> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const track = (s: Socket): void => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
    s.on('error', () => s.destroy())
  }

  // In TLS mode the delayed relay forwards to a TLS terminator on loopback, which forwards in
  // clear to the real target: the gateway's TLS handshake cannot complete before the delay ends.
  let terminator: TlsServer | undefined
  let next = options.target
  if (options.tls !== undefined) {
    const tlsServer = createTlsServer({ key: options.tls.key, cert: options.tls.cert }, (secure) => {
      track(secure)
      const out = netConnect({ host: options.target.host, port: options.target.port })
      track(out)
      secure.pipe(out)
      out.pipe(secure)
      secure.once('close', () => out.destroy())
      out.once('close', () => secure.destroy())
    })
    tlsServer.on('tlsClientError', () => undefined)
    await listen(tlsServer)
    terminator = tlsServer
    next = { host: '127.0.0.1', port: (tlsServer.address() as { port: number }).port }
  }

  const connections: RelayConnection[] = []
  let claimed = 0
  const waiters: Array<(c: RelayConnection) => void> = []

  const server: Server = createServer({ pauseOnConnect: true }, (inbound) => {
    track(inbound)
    const acceptedAt = Date.now()
    let markPiped!: () => void
    let markFailed!: (err: Error) => void
    const piped = new Promise<void>((resolve, reject) => { markPiped = resolve; markFailed = reject })
    piped.catch(() => undefined)
    const record: RelayConnection = { acceptedAt, delayEndsAt: acceptedAt + options.delayMs, piped }
    connections.push(record)
    inbound.once('close', () => {
      record.closedAt = Date.now()
      markFailed(new Error('the gateway closed its side before the relay piped'))
    })
    const waiter = waiters.shift()
    if (waiter !== undefined) {
      claimed++
      waiter(record)
    }

    const timer = setTimeout(() => {
      timers.delete(timer)
      if (inbound.destroyed) return
      const out = netConnect({ host: next.host, port: next.port })
      track(out)
      out.once('connect', () => {
        record.pipedAt = Date.now()
        inbound.pipe(out)
        out.pipe(inbound)
        markPiped()
      })
      inbound.once('close', () => out.destroy())
      out.once('close', () => inbound.destroy())
    }, options.delayMs)
    timers.add(timer)
  })
  await listen(server)
  const { port } = server.address() as { port: number }

  return {
    host: '127.0.0.1',
    port,
    delayMs: options.delayMs,
    connections,
    nextConnection(timeoutMs = 10_000) {
      if (claimed < connections.length) return Promise.resolve(connections[claimed++] as RelayConnection)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          const i = waiters.indexOf(onConnection)
          if (i >= 0) waiters.splice(i, 1)
          reject(new Error(`no connection reached the delay relay within ${timeoutMs} ms`))
        }, timeoutMs)
        const onConnection = (c: RelayConnection): void => { clearTimeout(timer); resolve(c) }
        waiters.push(onConnection)
      })
    },
    async close() {
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const s of sockets) s.destroy()
      await Promise.all([closeServer(server), terminator === undefined ? undefined : closeServer(terminator)])
    },
  }
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

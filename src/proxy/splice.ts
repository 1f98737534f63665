import { performance } from 'node:perf_hooks'
import type { Socket } from 'node:net'
import type { KickReason, CloseCause } from '../reasons'
import type { PipelineDeps } from './deps'
import type { Ready } from './lifecycle/context'
import type { AnyProtocolModule } from './lifecycle/protocol'
import { sessionIdentity } from './lifecycle/session-view'
import type { LiveSession, SessionView } from './session-registry'
import { closeAfterReply, ignoreSocketError } from './close'
import type { FrameBoundary } from './frame-boundary'
import type { DownstreamFilter } from './stream-filter'
import { pump } from './pump'

/**
 * The forwarding phase. Bytes move with `pump()` (pump.ts) both ways: each direction pauses its
 * reader when the other side's buffer is full and resumes on 'drain', so a slow reader slows only
 * its own writer and nothing is buffered without bound — and the two directions are independent,
 * so a busy one never starves the other. Per chunk there is one write; bytes are counted from the
 * upstream socket's own counters when the session ends.
 *
 * A direction that waits for 'drain' longer than `limits.slowConsumerTimeoutMs` ends the session
 * SLOW_CONSUMER (a reader that stopped reading would otherwise pin both sockets for ever). When
 * the broker goes away the client is told in its protocol (`backendLost`) at a frame boundary,
 * then closed: BACKEND_CLOSED.
 *
 * A session whose instance enforces authorization (DESIGN §4) is pumped through its protocol's
 * filters (`module.enforce`, stream-filter.ts) both ways; every other session is not touched by
 * authorization at all. The filters may end the session (NOT_AUTHORIZED where the protocol has no
 * answer for a denial, PROTOCOL_ERROR, SLOW_CONSUMER), recorded as the close cause.
 */
export function startSplice(conn: Ready<unknown>, module: Pick<AnyProtocolModule, 'session' | 'enforce'>, deps: Pick<PipelineDeps, 'config' | 'processId' | 'upstreamBudget' | 'metrics' | 'audit' | 'sessions' | 'recheck' | 'authorization'>): void {
  const { upstream, client } = conn
  const protocol = conn.listener.protocol
  upstream.setNoDelay(true)
  upstream.on('error', ignoreSocketError)

  // What the session keeps: its identity, its audit actor and its goodbye, all small. The
  // closures below capture these and not `conn`, so the handshake's objects (certificates, the
  // CONNECT, frame readers, the deadline's controller) are garbage once this function returns.
  const identity = sessionIdentity(conn)
  const actor = { kind: 'client' as const, ...conn.actor }
  const source = conn.source
  // DESIGN §4: a session of an instance that enforces authorization is spliced through its
  // protocol's filters, which decide every PUBLISH, SUBSCRIBE, delivery and AMQP method.
  const authorizer = deps.authorization.session(identity, { connId: conn.id, instanceId: identity.instanceId, protocol, actor, source })
  const view: SessionView = {
    ...identity,
    connId: conn.id,
    ...(authorizer !== undefined ? { enforced: true as const } : {}),
    listener: conn.listener.name,
    startedAt: conn.startedAt,
    processId: deps.processId,
  }
  const accepted = {
    connId: conn.id, listener: conn.listener.name, ...sessionDetails(view),
    ...(conn.sni !== undefined ? { sni: conn.sni } : {}),
    ...(conn.proxiedBy !== undefined ? { proxiedBy: conn.proxiedBy.ip } : {}),
    ...(conn.vpc !== undefined ? { vpc: `${conn.vpc.cloud}:${conn.vpc.kind}:${conn.vpc.id}` } : {}),
    ...(authorizer !== undefined ? { authorization: 'enforce' } : {}),
  }

  // Corked until the pipelined bytes below are written too: the preamble and what came with the
  // handshake leave in one writev per side (AMQP's Tune-Ok and Open were two syscalls, each of
  // which on loopback also runs the broker's side of TCP).
  upstream.cork()
  client.cork()
  for (const chunk of conn.upstreamPreamble) upstream.write(chunk)
  for (const chunk of conn.downstreamPreamble) client.write(chunk)
  // The frame boundary sees every chunk before the pump writes it to the client (`observe`).
  const { farewell, backendLost, boundary: frames } = module.session(conn)
  let ended: KickReason | CloseCause | undefined
  let endDetail: string | undefined
  const filters = authorizer === undefined ? undefined : module.enforce(conn, {
    client, upstream, authorizer,
    end: (cause, detail) => {
      if (ended === undefined) endDetail = detail
      end(cause)
    },
    maxInspectBytes: deps.config.limits.maxInspectedPacketBytes,
    maxInjectedBacklogBytes: deps.config.limits.maxInjectedBacklogBytes,
  })
  const boundary = filters !== undefined ? filteredBoundary(filters.downstream) : frames !== undefined ? plainBoundary(frames, client) : undefined
  const brokerSpoke = (): boolean => (boundary !== undefined ? boundary.framesStarted > 0 : upstream.bytesRead > 0)
  // A direction whose reader stops draining for slowConsumerTimeoutMs ends the session (pump.ts).
  const stallMs = deps.config.limits.slowConsumerTimeoutMs
  const stall = stallMs > 0 ? { stall: { timeoutMs: stallMs, onStall: () => end('SLOW_CONSUMER') } } : {}
  // Client → broker: TLS records coalesced into one write per tick, within the shared budget.
  // Broker → client: plain reads are already large; no budget, so deliveries are never starved.
  // The broker's end is not passed on as a half-close: the client gets the protocol's last words.
  const up = pump(client, upstream, { coalesce: true, budget: deps.upstreamBudget, ...stall, ...(filters !== undefined ? { filter: filters.upstream } : {}) })
  const down = pump(upstream, client, {
    ...stall, onEnd: () => brokerGone(),
    ...(filters !== undefined ? { filter: filters.downstream } : frames !== undefined ? { observe: (chunk: Buffer) => frames.feed(chunk) } : {}),
  })

  deps.metrics.handshakeSeconds.observe({ protocol }, (performance.now() - conn.acceptedAt) / 1000)

  const end = (cause: KickReason | CloseCause, goodbye?: Buffer): void => {
    if (ended !== undefined) return
    ended = cause
    down.stop()
    up.stop()
    if (goodbye === undefined) {
      upstream.destroy()
      client.destroy()
    } else if (boundary === undefined || boundary.framesStarted === 0) {
      // Nothing of the broker's has reached the client: the goodbye is the first thing it hears.
      upstream.destroy()
      closeAfterReply(client, goodbye)
    } else {
      goodbyeBetweenFrames(upstream, client, boundary, goodbye)
    }
  }
  // The broker closed or died: the client hears BACKEND_UNAVAILABLE in its protocol (MQTT 5
  // DISCONNECT 0x80, AMQP Close 320) if its stream is between two frames, else is just closed.
  const brokerGone = (): void => {
    if (ended !== undefined) return
    const atBoundary = boundary === undefined || boundary.atBoundary
    const goodbye = atBoundary ? backendLost?.(brokerSpoke()) : undefined
    ended = 'BACKEND_CLOSED'
    down.stop()
    up.stop()
    upstream.destroy()
    if (goodbye !== undefined || !atBoundary) closeAfterReply(client, goodbye)
    else endGracefully(client)
  }
  const session: LiveSession = {
    view,
    kick(reason) {
      if (ended !== undefined) return
      deps.metrics.sessionsKicked.inc({ reason })
      deps.audit.record({
        type: 'session.kicked', outcome: 'success', protocol, instanceId: view.instanceId, reason,
        actor: { kind: 'system' }, source, details: { connId: view.connId, ...sessionDetails(view) },
      })
      end(reason, farewell(reason, brokerSpoke()))
    },
  }
  const labels = { protocol, instance: view.instanceId }
  const finish = (): void => {
    deps.sessions.remove(view.connId)
    deps.recheck.ended(view.connId)
    filters?.close()
    if (authorizer !== undefined) deps.authorization.ended(view.connId)
    deps.metrics.connectionsActive.dec(labels)
    const upstreamBytes = upstream.bytesWritten
    const downstreamBytes = upstream.bytesRead
    deps.metrics.bytes.inc({ protocol, direction: 'upstream' }, upstreamBytes)
    deps.metrics.bytes.inc({ protocol, direction: 'downstream' }, downstreamBytes)
    deps.audit.record({
      type: 'connection.closed', outcome: 'success', protocol, instanceId: view.instanceId,
      reason: ended ?? 'CLIENT_CLOSED', actor, source,
      details: {
        connId: view.connId, bytesUpstream: upstreamBytes, bytesDownstream: downstreamBytes,
        durationMs: Math.round(Date.now() - Date.parse(view.startedAt)),
        ...(endDetail !== undefined ? { detail: endDetail } : {}),
      },
    })
  }
  client.once('close', () => {
    end('CLIENT_CLOSED')
    finish()
  })
  upstream.once('close', brokerGone)

  // What either peer pipelined past its handshake is the session's stream: through the filters
  // when it has them, so a PUBLISH sent together with the CONNECT is decided like any other.
  for (const chunk of conn.clientPipelined) {
    if (filters !== undefined) filters.upstream.push(chunk)
    else upstream.write(chunk)
  }
  for (const chunk of conn.brokerPipelined) {
    if (filters !== undefined) filters.downstream.push(chunk)
    else {
      frames?.feed(chunk)
      client.write(chunk)
    }
  }
  upstream.uncork()
  client.uncork()
  client.resume()
  upstream.resume()

  // In the same turn as the last re-check (stages/recheck.ts): every change from here on reaches
  // this session through the session registry.
  deps.sessions.add(session)
  deps.recheck.started(view)
  deps.metrics.connectionsAccepted.inc(labels)
  deps.metrics.connectionsActive.inc(labels)
  deps.audit.record({ type: 'connection.accepted', outcome: 'success', protocol, instanceId: view.instanceId, actor, source, details: accepted })
}

/**
 * Where the client's stream stands, for a goodbye written between two packets: `finish` passes
 * on the broker's bytes up to the end of the packet the client is in the middle of receiving.
 */
interface SpliceBoundary {
  readonly atBoundary: boolean
  readonly framesStarted: number
  /** Writes `chunk` to the client up to the next boundary. */
  finish(chunk: Buffer): void
}

function plainBoundary(frames: FrameBoundary, client: Socket): SpliceBoundary {
  return {
    get atBoundary() { return frames.atBoundary },
    get framesStarted() { return frames.framesStarted },
    finish(chunk) {
      const n = frames.untilBoundary(chunk)
      client.write(n === chunk.length ? chunk : chunk.subarray(0, n))
    },
  }
}

/** The downstream filter knows the client's stream itself (it writes it, the gateway's answers included). */
function filteredBoundary(filter: DownstreamFilter): SpliceBoundary {
  return {
    get atBoundary() { return filter.atBoundary },
    get framesStarted() { return filter.framesStarted },
    finish(chunk) {
      filter.untilBoundary(chunk)
    },
  }
}

/** Ends a stream that has no last words but may still hold the broker's last bytes unflushed. */
function endGracefully(stream: Socket): void {
  if (stream.destroyed) return
  const force = setTimeout(() => stream.destroy(), 2000)
  force.unref()
  stream.once('close', () => clearTimeout(force))
  stream.end()
}

function sessionDetails(view: SessionView): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of ['caId', 'deviceId', 'clientId', 'username', 'accessKeyId', 'account', 'vpcId', 'credentialExpiresAt'] as const) {
    const value = view[key]
    if (value !== undefined) out[key] = value
  }
  return out
}

/**
 * Finishes the frame the client is in the middle of receiving (if any), then writes the goodbye
 * and closes both sides. A broker that does not complete its frame within the grace period gets
 * the connection cut without a goodbye rather than a corrupted stream.
 */
function goodbyeBetweenFrames(upstream: Socket, client: Socket, boundary: SpliceBoundary, goodbye: Buffer): void {
  let timer: NodeJS.Timeout | undefined
  const finish = (): void => {
    upstream.off('data', onData)
    if (timer !== undefined) clearTimeout(timer)
    upstream.destroy()
    closeAfterReply(client, goodbye)
  }
  const onData = (chunk: Buffer): void => {
    boundary.finish(chunk)
    if (boundary.atBoundary) finish()
  }
  if (boundary.atBoundary) {
    finish()
    return
  }
  timer = setTimeout(() => {
    upstream.off('data', onData)
    upstream.destroy()
    client.destroy()
  }, 1000)
  upstream.on('data', onData)
  upstream.resume()
}

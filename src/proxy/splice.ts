import { performance } from 'node:perf_hooks'
import type { Socket } from 'node:net'
import type { KickReason, CloseCause } from '../reasons'
import type { Connection } from './connection'
import type { PipelineDeps } from './deps'
import type { ProtocolAdapter } from './adapters/adapter'
import type { LiveSession, SessionView } from './session-registry'
import { closeAfterReply, ignoreSocketError } from './close'
import type { FrameBoundary } from './frame-boundary'
import { pump } from './pump'

/**
 * The forwarding phase. Bytes move with `pump()` (pump.ts) both ways: each direction pauses its
 * reader when the other side's buffer is full and resumes on 'drain', so a slow reader slows only
 * its own writer and nothing is buffered without bound — and the two directions are independent,
 * so a busy one never starves the other. Per chunk there is one write; bytes are counted from the
 * upstream socket's own counters when the session ends.
 */
export function startSplice(conn: Connection, adapter: ProtocolAdapter, deps: PipelineDeps): void {
  const upstream = conn.upstream
  const instance = conn.instance
  if (upstream === undefined || instance === undefined) throw new Error('splice without upstream or instance')
  const client = conn.client as Socket
  const protocol = conn.listener.protocol
  conn.phase = { name: 'forwarding', upstream }
  upstream.setNoDelay(true)
  upstream.on('error', ignoreSocketError)

  for (const chunk of conn.upstreamPreamble ?? []) upstream.write(chunk)
  for (const chunk of conn.downstreamPreamble ?? []) client.write(chunk)
  // Registered before the pump so that it has seen every chunk the pump has written to the client.
  const boundary = adapter.frameBoundary(conn)
  if (boundary !== undefined) upstream.on('data', (chunk: Buffer) => boundary.feed(chunk))
  // Client → broker: TLS records coalesced into one write per tick, within the shared budget.
  // Broker → client: plain reads are already large; no budget, so deliveries are never starved.
  const up = pump(client, upstream, { coalesce: true, budget: deps.upstreamBudget })
  const down = pump(upstream, client)
  client.resume()
  upstream.resume()

  // What the session keeps: its identity, its audit actor and its goodbye, all small. The
  // closures below capture these and not `conn`, so the handshake's objects (certificates, the
  // CONNECT, frame readers, the deadline's controller) are garbage once this function returns.
  const view: SessionView = {
    connId: conn.id,
    instanceId: instance.id,
    protocol,
    listener: conn.listener.name,
    sourceIp: conn.source.ip,
    sourcePort: conn.source.port,
    startedAt: conn.startedAt,
    processId: deps.processId,
    ...adapter.identity(conn),
  }
  const actor = { kind: 'client' as const, ...adapter.actor(conn) }
  const source = conn.source
  const farewell = adapter.farewell(conn)
  const accepted = {
    connId: conn.id, listener: conn.listener.name, ...sessionDetails(view),
    ...(conn.sni !== undefined ? { sni: conn.sni } : {}),
    ...(conn.proxiedBy !== undefined ? { proxiedBy: conn.proxiedBy.ip } : {}),
    ...(conn.vpc !== undefined ? { vpc: `${conn.vpc.cloud}:${conn.vpc.kind}:${conn.vpc.id}` } : {}),
  }
  deps.metrics.handshakeSeconds.observe({ protocol }, (performance.now() - conn.acceptedAt) / 1000)

  let ended: KickReason | CloseCause | undefined
  const end = (cause: KickReason | CloseCause, goodbye?: Buffer): void => {
    if (ended !== undefined) return
    ended = cause
    down.stop()
    up.stop()
    if (goodbye === undefined || boundary === undefined) {
      upstream.destroy()
      client.destroy()
      return
    }
    goodbyeBetweenFrames(upstream, client, boundary, goodbye)
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
      end(reason, farewell(reason))
    },
  }
  const labels = { protocol, instance: view.instanceId }
  const finish = (): void => {
    deps.sessions.remove(view.connId)
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
      },
    })
  }
  client.once('close', () => {
    end('CLIENT_CLOSED')
    finish()
  })
  upstream.once('close', () => end('BACKEND_CLOSED'))

  deps.sessions.add(session)
  // The admission checks passed moments ago; a store blip here is logged, not turned into a kick.
  deps.revocation.recheck(view).catch((err: unknown) => deps.logger.warn({ conn: view.connId, err: String(err) }, 'post-admission recheck failed'))
  deps.metrics.connectionsAccepted.inc(labels)
  deps.metrics.connectionsActive.inc(labels)
  deps.audit.record({ type: 'connection.accepted', outcome: 'success', protocol, instanceId: view.instanceId, actor, source, details: accepted })
}

function sessionDetails(view: SessionView): Record<string, string> {
  const out: Record<string, string> = {}
  for (const key of ['caId', 'deviceId', 'clientId', 'username', 'accessKeyId', 'account', 'vpcId'] as const) {
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
function goodbyeBetweenFrames(upstream: Socket, client: Socket, boundary: FrameBoundary, goodbye: Buffer): void {
  let timer: NodeJS.Timeout | undefined
  const finish = (): void => {
    upstream.off('data', onData)
    if (timer !== undefined) clearTimeout(timer)
    upstream.destroy()
    closeAfterReply(client, goodbye)
  }
  const onData = (chunk: Buffer): void => {
    const n = boundary.untilBoundary(chunk)
    client.write(n === chunk.length ? chunk : chunk.subarray(0, n))
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

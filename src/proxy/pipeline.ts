import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { NO_INSTANCE } from '../observability/metrics'
import { REPLY_CODES } from '../protocols/amqp/reply-codes'
import type { ListenerConfig } from '../config/schema'
import { asConnId } from '../ids'
import { isPortcullisError } from '../errors'
import type { RefusalReason } from '../reasons'
import type { Connection, Phase } from './connection'
import type { PipelineDeps } from './deps'
import { ClientGone } from './read-client'
import { reject, type Verdict } from './verdict'
import { startSplice } from './splice'
import { closeAfterReply, ignoreSocketError } from './close'
import { tlsHandshake } from './stages/tls-handshake'
import { proxyHeader } from './stages/proxy-header'
import { blacklist, tunnel } from './stages/policy'
import { clientCertificate } from './stages/client-certificate'
import { deviceCertificate } from './stages/device-certificate'
import { mqttConnect } from './stages/mqtt-connect'
import { connectUpstream } from './stages/upstream'
import { mqttForward } from './stages/mqtt-forward'
import { mqttAdapter } from './adapters/mqtt'
import { amqpAdapter } from './adapters/amqp'
import { amqpClose } from './adapters/amqp-close'
import { amqpHello } from './stages/amqp-hello'
import { amqpAuthenticate } from './stages/amqp-authenticate'
import { amqpBackend } from './stages/amqp-backend'
import { AmqpHandshakeError } from './amqp-frames'
import type { ProtocolAdapter } from './adapters/adapter'

/**
 * The connection pipeline: the one place that knows the order of the stages.
 *
 *   accept ─► PROXY header (trusted LBs; VPC identity) ─► blacklist (address)
 *          ─► TLS (SNI → instance; Single Tunnel checked inside the handshake)
 *     MQTT ─► tunnel ─► client certificate chain ─► device certificate state ─► CONNECT
 *          ─► blacklist (identity) ─► upstream connect ─► CONNECT forward ─► splice
 *     AMQP ─► protocol header, Start, Start-Ok ─► AccessKey credentials ─► tunnel
 *          ─► blacklist (identity) ─► upstream connect ─► backend handshake, Tune relay, Open ─► splice
 *
 * Guarantees:
 * - one deadline (`limits.handshakeTimeoutMs`) covers every stage before the splice; when it
 *   passes, the waiting stage is aborted and the connection refused with HANDSHAKE_TIMEOUT;
 * - stages return verdicts and never close the client socket (they write only their protocol's
 *   handshake messages: AMQP Start, Tune); only `refuse` and the splice close, so every refusal is
 *   audited and counted exactly once;
 * - an exception from a stage (a store outage, say) refuses the connection: nothing is admitted
 *   on a check that could not be made;
 * - no client bytes are read except through a capped decoder in a stage.
 */
type StagePhase = Exclude<Phase['name'], 'closed' | 'forwarding'>
type Stage = { readonly name: string; readonly phase: StagePhase; run(conn: Connection, deps: PipelineDeps): Promise<Verdict> }

const stage = (name: string, phase: StagePhase, run: Stage['run']): Stage => ({ name, phase, run })

export const PIPELINES: Readonly<Record<ListenerConfig['protocol'], { stages: readonly Stage[]; adapter: ProtocolAdapter }>> = {
  mqtt: {
    stages: [
      stage('proxy-header', 'handshaking', proxyHeader),
      stage('blacklist-address', 'handshaking', blacklist(mqttAdapter)),
      stage('tls', 'handshaking', tlsHandshake),
      stage('tunnel', 'authenticating', tunnel),
      stage('client-certificate', 'authenticating', clientCertificate),
      stage('device-certificate', 'authenticating', deviceCertificate),
      stage('mqtt-connect', 'authenticating', mqttConnect),
      stage('blacklist', 'authenticating', blacklist(mqttAdapter)),
      stage('upstream', 'connecting', connectUpstream),
      stage('mqtt-forward', 'connecting', mqttForward),
    ],
    adapter: mqttAdapter,
  },
  amqp: {
    stages: [
      stage('proxy-header', 'handshaking', proxyHeader),
      stage('blacklist-address', 'handshaking', blacklist(amqpAdapter)),
      stage('tls', 'handshaking', tlsHandshake),
      stage('amqp-hello', 'authenticating', amqpHello),
      stage('amqp-authenticate', 'authenticating', amqpAuthenticate),
      stage('tunnel', 'authenticating', tunnel),
      stage('blacklist', 'authenticating', blacklist(amqpAdapter)),
      stage('upstream', 'connecting', connectUpstream),
      stage('amqp-backend', 'connecting', amqpBackend),
    ],
    adapter: amqpAdapter,
  },
}

export async function runPipeline(socket: Socket, listener: ListenerConfig, deps: PipelineDeps): Promise<void> {
  const controller = new AbortController()
  const conn: Connection = {
    id: asConnId(randomUUID()),
    listener,
    socket,
    acceptedAt: performance.now(),
    startedAt: new Date().toISOString(),
    signal: controller.signal,
    source: { ip: normaliseIp(socket.remoteAddress), port: socket.remotePort ?? 0 },
    phase: { name: 'handshaking' },
    client: socket,
  }
  // A client's bad bytes or a reset must never surface as an unhandled 'error' event.
  socket.on('error', ignoreSocketError)
  socket.setNoDelay(true)
  const deadline = setTimeout(() => controller.abort(), deps.config.limits.handshakeTimeoutMs)
  const pipeline = PIPELINES[listener.protocol]
  try {
    for (const s of pipeline.stages) {
      conn.phase = { name: s.phase }
      const verdict = await runStage(s, conn, deps)
      if (verdict.kind === 'reject') {
        await refuse(conn, verdict, pipeline.adapter, deps)
        return
      }
    }
  } finally {
    clearTimeout(deadline)
  }
  // A peer that closed while the last stage waited on something else (the store, the broker) has
  // no 'close' event left to fire: splicing it would leave a session registered for ever.
  if (conn.client.destroyed || conn.upstream?.destroyed === true) {
    const gone = conn.client.destroyed ? reject('PROTOCOL_ERROR', 'client went away before the splice') : reject('BACKEND_UNAVAILABLE', 'backend went away before the splice')
    await refuse(conn, gone, pipeline.adapter, deps)
    return
  }
  startSplice(conn, pipeline.adapter, deps)
}

async function runStage(s: Stage, conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  try {
    return await s.run(conn, deps)
  } catch (err) {
    if (err instanceof ClientGone) {
      if (err.why === 'aborted') return reject('HANDSHAKE_TIMEOUT', `deadline passed in stage ${s.name}`)
      if (err.peer === 'backend') return reject('BACKEND_UNAVAILABLE', `backend went away in stage ${s.name}`)
      return reject(s.phase === 'handshaking' ? 'TLS_HANDSHAKE_FAILED' : 'PROTOCOL_ERROR', `client went away in stage ${s.name}`)
    }
    if (err instanceof AmqpHandshakeError) {
      if (err.peer === 'backend') return reject('BACKEND_UNAVAILABLE', `backend: ${err.detail}`)
      return reject('PROTOCOL_ERROR', err.detail, amqpClose(err.replyCode, `${replyName(err.replyCode)} - ${err.detail}`))
    }
    deps.logger.warn({ conn: conn.id, stage: s.name, err: errorSummary(err) }, 'stage failed; refusing the connection')
    // Fail closed. The store is the gateway's own backend, so its outage is BACKEND_UNAVAILABLE.
    const reason: RefusalReason = isPortcullisError(err, 'STORE_UNAVAILABLE') ? 'BACKEND_UNAVAILABLE' : 'PROTOCOL_ERROR'
    return reject(reason, `stage ${s.name} failed`)
  }
}

/** Sends the protocol's refusal (if the client can still hear it), closes, audits, counts. */
async function refuse(
  conn: Connection, verdict: Extract<Verdict, { kind: 'reject' }>, adapter: ProtocolAdapter, deps: PipelineDeps,
): Promise<void> {
  conn.phase = { name: 'closed', reason: verdict.reason }
  conn.upstream?.destroy()
  let reply = verdict.reply
  if (reply === undefined && (conn.tls !== undefined || !conn.listener.tls)) {
    reply = await adapter.refusalReply(conn, verdict.reason, deps).catch(() => undefined)
  }
  const protocol = conn.listener.protocol
  deps.metrics.connectionsRejected.inc({ protocol, instance: conn.instance?.id ?? NO_INSTANCE, reason: verdict.reason })
  deps.audit.record({
    type: 'connection.rejected',
    outcome: 'failure',
    protocol,
    reason: verdict.reason,
    actor: { kind: 'client', ...adapter.actor(conn) },
    source: conn.source,
    ...(conn.instance !== undefined ? { instanceId: conn.instance.id } : {}),
    details: {
      connId: conn.id,
      listener: conn.listener.name,
      ...(verdict.detail !== undefined ? { detail: verdict.detail } : {}),
      ...(conn.sni !== undefined ? { sni: conn.sni } : {}),
      ...(conn.proxiedBy !== undefined ? { proxiedBy: conn.proxiedBy.ip } : {}),
    },
  })
  closeAfterReply(conn.client, reply)
}


function replyName(code: number): string {
  const entry = Object.entries(REPLY_CODES).find(([, value]) => value === code)
  return entry === undefined ? 'FRAME_ERROR' : entry[0]
}

function normaliseIp(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

function errorSummary(err: unknown): { code?: string; message: string } {
  if (isPortcullisError(err)) return { code: err.code, message: err.message }
  return { message: err instanceof Error ? err.message : String(err) }
}

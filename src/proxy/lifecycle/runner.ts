import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { NO_INSTANCE } from '../../observability/metrics'
import type { ListenerConfig } from '../../config/schema'
import { asConnId } from '../../ids'
import { isPortcullisError } from '../../errors'
import type { RefusalReason } from '../../reasons'
import type { PipelineDeps } from '../deps'
import type { Pipeline } from '../pipeline'
import { ClientGone } from '../read-client'
import { reject, type Rejection, type Step } from '../verdict'
import { startSplice } from '../splice'
import { closeAfterReply, ignoreSocketError } from '../close'
import type { Stage } from './chain'
import { clientOf, instanceOf, upstreamOf, type Accepted, type AnyPhase, type Proxied, type Ready, type Secured } from './context'
import type { AnyProtocolModule } from './protocol'

/**
 * Runs one accepted socket through its protocol's pipeline (pipeline.ts), then hands the ready
 * connection to the splice. The runner knows no protocol: replies come from the protocol module.
 */
export async function runConnection(
  socket: Socket, listener: ListenerConfig, protocol: AnyProtocolModule, pipeline: Pipeline, deps: PipelineDeps,
): Promise<void> {
  const controller = new AbortController()
  let ctx: AnyPhase = {
    phase: 'accepted',
    id: asConnId(randomUUID()),
    listener,
    socket,
    acceptedAt: performance.now(),
    startedAt: new Date().toISOString(),
    signal: controller.signal,
    source: { ip: normaliseIp(socket.remoteAddress), port: socket.remotePort ?? 0 },
  } satisfies Accepted
  // A client's bad bytes or a reset must never surface as an unhandled 'error' event.
  socket.on('error', ignoreSocketError)
  socket.setNoDelay(true)
  const deadline = setTimeout(() => controller.abort(), deps.config.limits.handshakeTimeoutMs)
  try {
    for (const stage of pipeline.stages) {
      // A stage that answers synchronously (most rule checks) is taken at once: no microtask hop.
      let step = runStage(stage, ctx, protocol, deps)
      if (step instanceof Promise) step = await step
      if (step?.kind === 'reject') return await refuse(ctx, step, protocol, deps)
      if (step?.kind !== 'next' || step.ctx?.phase !== stage.to) {
        const got = step?.kind === 'next' ? `phase ${String(step.ctx?.phase)}` : `a ${String((step as { kind?: unknown } | undefined)?.kind)} step`
        return await illegalState(ctx, `stage ${stage.name} answered ${got}, not phase ${stage.to}`, protocol, deps)
      }
      ctx = step.ctx as AnyPhase
    }
  } finally {
    clearTimeout(deadline)
  }
  if (ctx.phase !== 'ready') return illegalState(ctx, `the pipeline ended in phase ${ctx.phase}`, protocol, deps)
  const ready = ctx as Ready<unknown>
  // A peer that closed while the last stage waited on something else (the store, the broker) has
  // no 'close' event left to fire: splicing it would leave a session registered for ever.
  if (ready.client.destroyed || ready.upstream.destroyed) {
    const gone = ready.client.destroyed ? reject('PROTOCOL_ERROR', 'client went away before the splice') : reject('BACKEND_UNAVAILABLE', 'backend went away before the splice')
    return refuse(ctx, gone, protocol, deps)
  }
  startSplice(ready, protocol, deps)
}

/**
 * Runs one stage; a synchronous stage's answer comes back as it is (not wrapped in a promise), so
 * the loop above awaits only the stages that really wait on something.
 */
function runStage(stage: Stage, ctx: AnyPhase, protocol: AnyProtocolModule, deps: PipelineDeps): Step<AnyPhase> | Rejection | Promise<Step<AnyPhase> | Rejection> {
  try {
    const result = stage.run(ctx as never, deps) as Step<AnyPhase> | Promise<Step<AnyPhase>>
    if (!(result instanceof Promise)) return result
    return result.then(undefined, (err: unknown) => stageFailure(err, stage, ctx, protocol, deps))
  } catch (err) {
    return stageFailure(err, stage, ctx, protocol, deps)
  }
}

function stageFailure(err: unknown, stage: Stage, ctx: AnyPhase, protocol: AnyProtocolModule, deps: PipelineDeps): Rejection {
  if (err instanceof ClientGone) {
    if (err.why === 'aborted') return reject('HANDSHAKE_TIMEOUT', `deadline passed in stage ${stage.name}`)
    if (err.peer === 'backend') return reject('BACKEND_UNAVAILABLE', `backend went away in stage ${stage.name}`)
    const beforeTls = ctx.phase === 'accepted' || ctx.phase === 'proxied'
    return reject(beforeTls ? 'TLS_HANDSHAKE_FAILED' : 'PROTOCOL_ERROR', `client went away in stage ${stage.name}`)
  }
  const own = protocol.stageError(err, stage.name)
  if (own !== undefined) return own
  deps.logger.warn({ conn: ctx.id, stage: stage.name, err: errorSummary(err) }, 'stage failed; refusing the connection')
  // Fail closed. The store is the gateway's own backend, so its outage is BACKEND_UNAVAILABLE.
  const reason: RefusalReason = isPortcullisError(err, 'STORE_UNAVAILABLE') ? 'BACKEND_UNAVAILABLE' : 'PROTOCOL_ERROR'
  return reject(reason, `stage ${stage.name} failed`)
}

/** A stage answered what its declaration says it cannot: a gateway bug, closed and counted, never guessed around. */
async function illegalState(ctx: AnyPhase, detail: string, protocol: AnyProtocolModule, deps: PipelineDeps): Promise<void> {
  deps.metrics.illegalStates.inc({ protocol: ctx.listener.protocol, phase: ctx.phase })
  deps.logger.error({ conn: ctx.id, phase: ctx.phase, detail }, 'illegal connection state; closing')
  await refuse(ctx, reject('ILLEGAL_STATE', detail), protocol, deps)
}

/** Sends the protocol's refusal (if the client can still hear it), closes, audits, counts. */
async function refuse(ctx: AnyPhase, verdict: Rejection, protocol: AnyProtocolModule, deps: PipelineDeps): Promise<void> {
  upstreamOf(ctx)?.destroy()
  let reply = verdict.reply
  let learnt: Record<string, string> | undefined
  if (reply === undefined) {
    const answer = await protocol.refusal(ctx, verdict.reason, deps).catch(() => ({} as { reply?: Buffer | undefined; actor?: Record<string, string> }))
    reply = answer.reply
    learnt = answer.actor
  }
  const instanceId = verdict.about?.instanceId ?? instanceOf(ctx)?.id
  const name = ctx.listener.protocol
  deps.metrics.connectionsRejected.inc({ protocol: name, instance: instanceId ?? NO_INSTANCE, reason: verdict.reason })
  const secured = ctx as Partial<Secured> & Partial<Proxied>
  const sni = verdict.about?.sni ?? secured.sni
  deps.audit.record({
    type: 'connection.rejected',
    outcome: 'failure',
    protocol: name,
    reason: verdict.reason,
    actor: { kind: 'client', ...(ctx as { actor?: Record<string, string> }).actor, ...verdict.actor, ...learnt },
    source: ctx.source,
    ...(instanceId !== undefined ? { instanceId } : {}),
    details: {
      connId: ctx.id,
      listener: ctx.listener.name,
      ...(verdict.detail !== undefined ? { detail: verdict.detail } : {}),
      ...(sni !== undefined ? { sni } : {}),
      ...(secured.proxiedBy !== undefined ? { proxiedBy: secured.proxiedBy.ip } : {}),
    },
  })
  closeAfterReply(clientOf(ctx), reply)
}

function normaliseIp(address: string | undefined): string {
  if (address === undefined) return 'unknown'
  return address.startsWith('::ffff:') ? address.slice(7) : address
}

function errorSummary(err: unknown): { code?: string; message: string } {
  if (isPortcullisError(err)) return { code: err.code, message: err.message }
  return { message: err instanceof Error ? err.message : String(err) }
}

import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { PipelineDeps } from '../deps'
import type { Admitted, Connected } from '../lifecycle/context'
import type { AnyProtocolModule } from '../lifecycle/protocol'
import { next, reject, type Step } from '../verdict'
import type { InstanceRecord } from '../../store/records'
import type { ProtocolName } from '../../protocols/names'

type Deps = Pick<PipelineDeps, 'config' | 'embeddedBrokers' | 'warmUpstreams'>
type Protocol = Pick<AnyProtocolModule, 'name' | 'embeddedBackend'>

/**
 * Broker connections opened (and logged in) before their client arrived: the AMQP warm pool
 * (src/protocols/amqp/backend-pool/). `take` answers one for this client, used by it alone, or
 * undefined, and then the stage opens one as it always has: a pool can only save time, never
 * refuse anybody.
 */
export interface WarmUpstreams {
  take(ctx: Admitted<unknown>, protocol: ProtocolName): Socket | undefined
}

/**
 * Opens the connection to the instance's broker: plain TCP, TLS (verified against the backend's
 * CA bundle), or the embedded aedes broker on loopback. A broker that does not answer within
 * `limits.backendConnectTimeoutMs` (or the handshake deadline, whichever comes first) is
 * BACKEND_UNAVAILABLE (HANDSHAKE_TIMEOUT when it was the handshake deadline that passed); the
 * gateway refuses this client and goes on serving others. A connection
 * opened ahead of the client (`warmUpstreams`, the AMQP warm pool) is taken first when there is one.
 */
export function connectUpstream(protocol: Protocol) {
  return async <H>(ctx: Admitted<H>, deps: Deps): Promise<Step<Connected<H>>> => {
    const warm = deps.warmUpstreams?.take(ctx, protocol.name)
    if (warm !== undefined) return next({ ...ctx, phase: 'connected', upstream: warm })
    let target: { host: string; port: number }
    try {
      target = await resolveTarget(ctx.instance, protocol, deps)
    } catch (err) {
      return reject('BACKEND_UNAVAILABLE', (err as Error).message)
    }
    const socket = await openBackendSocket(ctx.instance, target, deps.config.limits.backendConnectTimeoutMs, ctx.signal)
    // The client's own deadline passing is not the broker's failure: on a saturated gateway it is
    // the gateway's, and the admission limit must hear of it as such (limits/adaptive-limit.ts).
    if (socket instanceof Error) return reject(ctx.signal.aborted ? 'HANDSHAKE_TIMEOUT' : 'BACKEND_UNAVAILABLE', socket.message)
    return next({ ...ctx, phase: 'connected', upstream: socket })
  }
}

async function resolveTarget(instance: InstanceRecord, protocol: Protocol, deps: Deps): Promise<{ host: string; port: number }> {
  const backend = instance.backend
  if (backend.kind === 'embedded') {
    if (protocol.embeddedBackend === undefined) throw new Error(`there is no embedded ${protocol.name} broker; configure backend host and port`)
    return protocol.embeddedBackend(instance, deps)
  }
  if (backend.host === undefined || backend.port === undefined) throw new Error('backend has no host/port')
  return { host: backend.host, port: backend.port }
}

/**
 * One TCP or TLS connection to a broker, resolved once it is connected (TLS: verified) or with the
 * reason it is not; the socket is destroyed on failure. Also what the AMQP warm pool opens with.
 */
export function openBackendSocket(
  instance: InstanceRecord, target: { host: string; port: number }, timeoutMs: number, signal: AbortSignal,
): Promise<Socket | Error> {
  const tls = instance.backend.kind === 'tcp' ? instance.backend.tls : undefined
  return new Promise((resolve) => {
    const socket: Socket = tls
      ? tlsConnect({
        host: target.host,
        port: target.port,
        servername: tls.servername ?? target.host,
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
      })
      : netConnect({ host: target.host, port: target.port })
    const readyEvent = tls ? 'secureConnect' : 'connect'
    const timer = setTimeout(() => finish(new Error(`backend ${target.host}:${target.port} did not answer in ${timeoutMs} ms`)), timeoutMs)
    const onAbort = (): void => finish(new Error('handshake deadline passed while connecting upstream'))
    const onError = (err: Error): void => finish(new Error(`backend ${target.host}:${target.port}: ${err.message}`))
    const onReady = (): void => finish(socket)
    function finish(result: Socket | Error): void {
      clearTimeout(timer)
      socket.off(readyEvent, onReady)
      socket.off('error', onError)
      signal.removeEventListener('abort', onAbort)
      if (result instanceof Error) socket.destroy()
      resolve(result)
    }
    socket.once(readyEvent, onReady)
    socket.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

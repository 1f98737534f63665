import { isIP } from 'node:net'
import type { SecureContext, TLSSocket } from 'node:tls'
import type { PipelineDeps } from '../deps'
import type { Proxied, Secured } from '../lifecycle/context'
import type { AnyProtocolModule } from '../lifecycle/protocol'
import { concerning, next, reject, type Rejection, type Step } from '../verdict'
import type { InstanceRecord } from '../../store/records'
import { tunnelRefusal } from './tunnel'
import { serverTlsSocket } from '../../tls/server-socket'

type Deps = Pick<PipelineDeps, 'tlsContexts' | 'directory'>
type Protocol = Pick<AnyProtocolModule, 'requestClientCertificate' | 'instanceWithoutSni'>

/**
 * TLS termination. SNI chooses the instance and its server certificate while the handshake is
 * still running; an unknown SNI aborts the handshake (UNKNOWN_INSTANCE), so nobody learns anything
 * about an instance they did not name. A protocol whose clients authenticate with certificates
 * (MQTT) asks for one but lets the handshake complete without it (`rejectUnauthorized: false`):
 * its own stage decides against the instance's registered CAs and gives a precise reason, which
 * OpenSSL alone cannot. Without SNI the listener's `defaultInstance` applies, else the protocol's
 * own choice (MQTT: the single MQTT instance). An SNI that is an IP literal counts as none: RFC 6066
 * §3 forbids literal addresses in "HostName", yet libmosquitto sends the connect host, address or
 * not. A name no instance serves falls back to the listener's `defaultInstance` when one is set
 * (DESIGN §4), and is refused UNKNOWN_INSTANCE otherwise.
 */
export function tlsHandshake(protocol: Protocol) {
  return async (ctx: Proxied, deps: Deps): Promise<Step<Secured>> => {
    if (!ctx.listener.tls) return next(withInstance({ ...ctx, phase: 'secured', client: ctx.socket }, protocol, deps))
    const sni = sniChooser(ctx, deps)
    // Renegotiation refused and post-handshake TLS errors ending the socket: see tls/server-socket.ts.
    const socket = serverTlsSocket(ctx.socket, {
      secureContext: deps.tlsContexts.default,
      requestCert: protocol.requestClientCertificate,
      rejectUnauthorized: false,
      SNICallback: sni.callback,
    })
    const outcome = await handshakeOutcome(socket, ctx.signal)
    const chosen = sni.finish()
    if (outcome === 'aborted') return reject('HANDSHAKE_TIMEOUT')
    if (chosen.refusal !== undefined) return chosen.refusal
    if (outcome === 'failed') return reject('TLS_HANDSHAKE_FAILED')
    // Keep the socket quiet until a protocol stage asks for bytes.
    socket.pause()
    const secured: Secured = {
      ...ctx, phase: 'secured', client: socket, tls: socket,
      ...(chosen.instance !== undefined ? { instance: chosen.instance, sni: chosen.servername as string } : {}),
    }
    // A resumed session skips the certificate callback, where Node runs SNICallback: the name the
    // client sent is read here instead, with the same checks.
    const servername = socket.servername
    if (chosen.instance === undefined && typeof servername === 'string' && servername !== '') {
      const resumed = chooseInstance(ctx, deps, servername)
      if ('reason' in resumed) return resumed
      if (resumed.instance !== undefined) return next({ ...secured, instance: resumed.instance, sni: servername })
    }
    return next(withInstance(secured, protocol, deps))
  }
}

function handshakeOutcome(socket: TLSSocket, signal: AbortSignal): Promise<'secure' | 'failed' | 'aborted'> {
  return new Promise((resolve) => {
    const finish = (result: 'secure' | 'failed' | 'aborted'): void => {
      socket.off('secure', onSecure)
      socket.off('error', onFailed)
      socket.off('close', onFailed)
      signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const onSecure = (): void => finish('secure')
    const onFailed = (): void => finish('failed')
    const onAbort = (): void => finish('aborted')
    socket.once('secure', onSecure)
    socket.once('error', onFailed)
    socket.once('close', onFailed)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

type Choice = { instance?: InstanceRecord; servername?: string; refusal?: Rejection }
const NO_CHOICE: Choice = Object.freeze({})

/**
 * The SNICallback, made outside tlsHandshake on purpose: the socket keeps its options (and so this
 * callback) for its whole life, and a closure made inside the stage would share its scope —
 * holding the connection's context for as long as the session lasts. This one reaches the context
 * through a holder that `finish` empties once the handshake is over.
 */
function sniChooser(ctx: Proxied, deps: Deps): {
  callback: (servername: string, done: (err: Error | null, ctx?: SecureContext) => void) => void
  finish: () => Choice
} {
  // Emptied by assignment, not `delete`: a deleted property turns the holder into a dictionary,
  // which the live session would then carry (through the socket's options) for its whole life.
  const holder: { ctx: Proxied | undefined; choice: Choice } = { ctx, choice: NO_CHOICE }
  return {
    callback(servername, done) {
      const current = holder.ctx
      if (current === undefined) return done(new Error('handshake over'))
      const chosen = chooseInstance(current, deps, servername)
      if ('reason' in chosen) {
        holder.choice = { refusal: chosen }
        done(new Error(chosen.reason))
        return
      }
      // An IP literal: no SNI, so the default context, as for a client that sent none.
      if (chosen.instance === undefined) return done(null)
      holder.choice = { instance: chosen.instance, servername }
      done(null, deps.tlsContexts.forInstance(chosen.instance))
    },
    finish() {
      const choice = holder.choice
      holder.ctx = undefined
      holder.choice = NO_CHOICE
      return choice
    },
  }
}

/**
 * The instance the SNI names (or the listener's default one for a name no instance serves), no
 * instance for an IP literal (decided after the handshake, as without SNI), or the refusal when
 * none may serve it.
 */
function chooseInstance(ctx: Proxied, deps: Deps, servername: string): { instance?: InstanceRecord } | Rejection {
  if (isIP(servername) !== 0) return {}
  const instance = namedInstance(ctx, deps, servername) ?? defaultInstance(ctx, deps)
  if (instance === undefined) {
    return reject('UNKNOWN_INSTANCE', `no ${ctx.listener.protocol} instance serves ${JSON.stringify(servername.slice(0, 253))}`)
  }
  // Single Tunnel: refused before the handshake completes, as early as the instance is known.
  const refusal = tunnelRefusal(instance, ctx.source)
  return refusal === undefined ? { instance } : concerning(refusal, { instanceId: instance.id, sni: servername })
}

function namedInstance(ctx: Proxied, deps: Deps, servername: string): InstanceRecord | undefined {
  const instance = deps.directory.findByHostname(servername)
  return instance?.protocol === ctx.listener.protocol ? instance : undefined
}

/** The listener's `defaultInstance`, if it names an existing instance of the listener's protocol. */
function defaultInstance(ctx: Pick<Proxied, 'listener'>, deps: Deps): InstanceRecord | undefined {
  const named = ctx.listener.defaultInstance
  if (named === undefined) return undefined
  const instance = deps.directory.get(named)
  return instance?.protocol === ctx.listener.protocol ? instance : undefined
}

function withInstance(ctx: Secured, protocol: Protocol, deps: Deps): Secured {
  if (ctx.instance !== undefined) return ctx
  const instance = instanceWithoutSni(ctx, protocol, deps)
  return instance === undefined ? ctx : { ...ctx, instance }
}

function instanceWithoutSni(ctx: Secured, protocol: Protocol, deps: Deps): InstanceRecord | undefined {
  if (ctx.listener.defaultInstance !== undefined) return defaultInstance(ctx, deps)
  return protocol.instanceWithoutSni(deps.directory.all().filter((i) => i.protocol === ctx.listener.protocol))
}

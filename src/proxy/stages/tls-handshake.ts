import { TLSSocket, type SecureContext } from 'node:tls'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Rejection, type Verdict } from '../verdict'
import type { InstanceRecord } from '../../store/records'
import { tunnelAdmits } from '../../policy/tunnel'

/**
 * TLS termination. SNI chooses the instance and its server certificate while the handshake is
 * still running; an unknown SNI aborts the handshake (UNKNOWN_INSTANCE), so nobody learns anything
 * about an instance they did not name. MQTT listeners request a client certificate but let the
 * handshake complete without one (`rejectUnauthorized: false`): the clientCertificate stage decides
 * against the instance's registered CAs and gives a precise reason, which OpenSSL alone cannot.
 * Without SNI the listener's `defaultInstance` applies, or (MQTT) the single MQTT instance.
 */
export async function tlsHandshake(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  if (!conn.listener.tls) {
    const instance = instanceWithoutSni(conn, deps)
    if (instance !== undefined) conn.instance = instance
    return CONTINUE
  }
  const sni = sniChooser(conn, deps)
  const socket = new TLSSocket(conn.socket, {
    isServer: true,
    secureContext: deps.tlsContexts.default,
    requestCert: conn.listener.protocol === 'mqtt',
    rejectUnauthorized: false,
    SNICallback: sni.callback,
  })
  conn.tls = socket
  conn.client = socket
  const outcome = await new Promise<'secure' | 'failed' | 'aborted'>((resolve) => {
    const finish = (result: 'secure' | 'failed' | 'aborted'): void => {
      socket.off('secure', onSecure)
      socket.off('error', onFailed)
      socket.off('close', onFailed)
      conn.signal.removeEventListener('abort', onAbort)
      resolve(result)
    }
    const onSecure = (): void => finish('secure')
    const onFailed = (): void => finish('failed')
    const onAbort = (): void => finish('aborted')
    socket.once('secure', onSecure)
    socket.once('error', onFailed)
    socket.once('close', onFailed)
    conn.signal.addEventListener('abort', onAbort, { once: true })
  })
  const refusal = sni.finish()
  if (outcome === 'aborted') return reject('HANDSHAKE_TIMEOUT')
  if (refusal !== undefined) return refusal
  if (outcome === 'failed') return reject('TLS_HANDSHAKE_FAILED')
  // A resumed session skips the certificate callback, where Node runs SNICallback: the name the
  // client sent is read here instead, with the same checks.
  const servername = socket.servername
  if (conn.sni === undefined && typeof servername === 'string' && servername !== '') {
    const verdict = chooseInstance(conn, deps, servername)
    if (verdict !== undefined) return verdict
  }
  // Keep the socket quiet until a protocol stage asks for bytes.
  socket.pause()
  if (conn.instance === undefined) {
    const instance = instanceWithoutSni(conn, deps)
    if (instance !== undefined) conn.instance = instance
  }
  return CONTINUE
}

/**
 * The SNICallback, made outside tlsHandshake on purpose: the socket keeps its options (and so this
 * callback) for its whole life, and a closure made inside tlsHandshake would share that function's
 * scope — holding the connection, its CONNECT and certificates for as long as the session lasts.
 * This one reaches the connection through a holder that `finish` empties once the handshake is over.
 */
function sniChooser(conn: Connection, deps: PipelineDeps): {
  callback: (servername: string, done: (err: Error | null, ctx?: SecureContext) => void) => void
  finish: () => Rejection | undefined
} {
  const holder: { conn?: Connection; refusal?: Rejection } = { conn }
  return {
    callback(servername, done) {
      const current = holder.conn
      if (current === undefined) return done(new Error('handshake over'))
      const verdict = chooseInstance(current, deps, servername)
      if (verdict !== undefined) {
        holder.refusal = verdict
        done(new Error(verdict.reason))
        return
      }
      done(null, deps.tlsContexts.forInstance(current.instance as InstanceRecord))
    },
    finish() {
      delete holder.conn
      return holder.refusal
    },
  }
}

/** Sets the connection's instance from the SNI; answers a refusal when none may serve it. */
function chooseInstance(conn: Connection, deps: PipelineDeps, servername: string): Rejection | undefined {
  const instance = deps.directory.findByHostname(servername)
  if (instance === undefined || instance.protocol !== conn.listener.protocol) {
    return reject('UNKNOWN_INSTANCE', `no ${conn.listener.protocol} instance serves ${JSON.stringify(servername.slice(0, 253))}`)
  }
  conn.sni = servername
  conn.instance = instance
  // Single Tunnel: refused before the handshake completes, as early as the instance is known.
  if (!tunnelAdmits(instance, conn.source.vpcId)) {
    return reject('TUNNEL_DENIED', `instance ${instance.id} is Single Tunnel; connection from ${conn.source.vpcId ?? 'a public network'}`)
  }
  return undefined
}

function instanceWithoutSni(conn: Connection, deps: PipelineDeps): InstanceRecord | undefined {
  const named = conn.listener.defaultInstance
  if (named !== undefined) {
    const instance = deps.directory.get(named)
    return instance?.protocol === conn.listener.protocol ? instance : undefined
  }
  // An AMQP client without SNI names its instance in its userName; an MQTT device has nothing
  // else to go by, so a gateway with a single MQTT instance serves it.
  if (conn.listener.protocol !== 'mqtt') return undefined
  const candidates = deps.directory.all().filter((i) => i.protocol === 'mqtt')
  return candidates.length === 1 ? candidates[0] : undefined
}

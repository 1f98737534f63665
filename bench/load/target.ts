import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'

/** Where a load connection goes: plaintext (the broker directly) or TLS (a proxy). Serialisable. */
export interface Target {
  host: string
  port: number
  tls?: {
    /** SNI: Portcullis picks the instance by it. */
    servername: string
    /** The server CA, PEM. */
    ca: string
    /** Client certificate and key, PEM, where the endpoint asks for one. */
    cert?: string
    key?: string
  }
}

/** AMQP credentials: the broker's own, or an AccessKey from which each login is derived. */
export type AmqpAuth =
  | { kind: 'plain'; username: string; password: string }
  | { kind: 'accessKey'; instanceId: string; accessKeyId: string; accessKeySecret: string }

export type LoadSocket = Socket | TLSSocket

const contexts = new WeakMap<NonNullable<Target['tls']>, SecureContext>()

/**
 * One secure context per target, built once: parsing PEM and the private key for every
 * connection would make the generator, not the proxy, the cost of a connection-rate run.
 */
function contextFor(tls: NonNullable<Target['tls']>): SecureContext {
  let ctx = contexts.get(tls)
  if (ctx === undefined) {
    ctx = createSecureContext({
      ca: tls.ca,
      ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
      ...(tls.key !== undefined ? { key: tls.key } : {}),
    })
    contexts.set(tls, ctx)
  }
  return ctx
}

export interface OpenOptions {
  /** A TLS session to resume (from the 'session' event of an earlier connection). */
  session?: Buffer
  /** Called with each session ticket the server sends. */
  onSession?: (session: Buffer) => void
}

/** Connects and resolves once the socket can carry data (TCP connect, or TLS handshake done). */
export function openSocket(target: Target, o: OpenOptions = {}): Promise<LoadSocket> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error): void => {
      socket.destroy()
      reject(err)
    }
    let socket: LoadSocket
    if (target.tls === undefined) {
      socket = netConnect({ host: target.host, port: target.port, noDelay: true }, () => {
        socket.off('error', fail)
        resolve(socket)
      })
    } else {
      const tlsSocket = tlsConnect({
        host: target.host,
        port: target.port,
        servername: target.tls.servername,
        secureContext: contextFor(target.tls),
        ...(o.session !== undefined ? { session: o.session } : {}),
      }, () => {
        tlsSocket.off('error', fail)
        tlsSocket.setNoDelay(true)
        resolve(tlsSocket)
      })
      if (o.onSession !== undefined) tlsSocket.on('session', o.onSession)
      socket = tlsSocket
    }
    socket.once('error', fail)
  })
}

/** Resolves with the next chunk for which `done` returns a value; rejects on close or error. */
export function readUntil<T>(socket: LoadSocket, done: (chunk: Buffer) => T | undefined, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('close', onClose)
      socket.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      const value = done(chunk)
      if (value !== undefined) {
        cleanup()
        resolve(value)
      }
    }
    const onClose = (): void => {
      cleanup()
      reject(new Error('connection closed by the server'))
    }
    const onError = (err: Error): void => {
      cleanup()
      reject(err)
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`no answer within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('data', onData)
    socket.once('close', onClose)
    socket.once('error', onError)
  })
}

import type { Socket } from 'node:net'
import { ignoreSocketError } from '../../../proxy/close'
import { openBackendSocket } from '../../../proxy/stages/upstream'
import type { InstanceRecord } from '../../../store/records'
import { loginToBackend, type TunedBackend } from '../backend-login'
import type { FieldTable } from '../field-table'

/** Opens one connection to the instance's broker and logs in up to Tune; an Error says why not (the socket is then closed). */
export type PoolLogin = (
  instance: InstanceRecord, clientProperties: FieldTable, signal: AbortSignal, limits: { readonly loginTimeoutMs: number; readonly maxFrameBytes: number },
) => Promise<{ readonly socket: Socket; readonly tuned: TunedBackend } | Error>

/**
 * The pool's login: the same socket opening as the upstream stage (TCP, or TLS verified against
 * the backend's CA bundle) and the same login as the cold path, with the pool's client-properties
 * and its own deadline (`signal`) instead of a client's.
 */
export const loginAhead: PoolLogin = async (instance, clientProperties, signal, limits) => {
  const { host, port } = instance.backend
  if (host === undefined || port === undefined) return new Error('backend has no host/port')
  const socket = await openBackendSocket(instance, { host, port }, limits.loginTimeoutMs, signal)
  if (socket instanceof Error) return socket
  socket.on('error', ignoreSocketError)
  socket.setNoDelay(true)
  try {
    const tuned = await loginToBackend(socket, signal, instance.backend, clientProperties, limits.maxFrameBytes)
    if (tuned.kind === 'reject') {
      socket.destroy()
      return new Error(tuned.detail ?? tuned.reason)
    }
    return { socket, tuned }
  } catch (err) {
    socket.destroy()
    return new Error(`backend login: ${err instanceof Error ? err.message : String(err)}`)
  }
}

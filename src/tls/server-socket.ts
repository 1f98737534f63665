import type { Socket } from 'node:net'
import { TLSSocket, type TLSSocketOptions } from 'node:tls'
import { ignoreSocketError } from '../proxy/close'

/**
 * The server side of a client's TLS connection, made on an accepted socket (not by a tls.Server,
 * because the PROXY header is read before TLS starts).
 *
 * Node (20) treats such a socket as never having "released control" (lib/_tls_wrap.js,
 * `_tlsError`): a TLS error after the handshake — the client's fatal alert, Node's own refusal of a
 * renegotiation — is reported only on the internal '_tlsError' event, never as 'error', and the
 * socket stays open on a dead TLS state. So:
 * - renegotiation is refused by OpenSSL (SSL_OP_NO_RENEGOTIATION in every context,
 *   tls/profiles.ts); Node's switch (`disableRenegotiation`) is set too, in case a context lacks it;
 * - any TLS error ends the socket, so the session it carries closes through 'close' like any other
 *   (a client refused a renegotiation aborts with a fatal alert, which lands here).
 */
export function serverTlsSocket(socket: Socket, options: Omit<TLSSocketOptions, 'isServer'>): TLSSocket {
  const tls = new TLSSocket(socket, { ...options, isServer: true })
  tls.disableRenegotiation()
  tls.on('_tlsError', endOnTlsError)
  // A reset or a bad record after the handshake must not become an unhandled 'error' event: the
  // session ends through 'close'.
  tls.on('error', ignoreSocketError)
  return tls
}

/** Module-level on purpose: a closure made per connection would keep its scope alive with the socket. */
function endOnTlsError(this: TLSSocket): void {
  this.destroy()
}

/**
 * What one failed attempt of a storm device was, in words a reader can add up (issue 15: "refusals
 * by reason … counted apart"). An attempt is in one of four phases when it fails:
 *
 *   tcp     connect() sent, no SYN-ACK yet (a full accept queue drops the SYN; the client
 *           retransmits it after 1 s, 3 s, 7 s …)
 *   accept  TCP up and the ClientHello sent, but no ServerHello yet: the connection waits in the
 *           endpoint's accept queue (the kernel completed the TCP handshake for it), in its
 *           admission queue, or behind its busy event loop; the endpoint has done no crypto for it
 *   tls     the ServerHello arrived (the client's first TLS secret was derived), TLS not finished
 *   mqtt    TLS up, CONNECT written, no CONNACK yet
 *
 * and fails in one of these ways. A timeout in phase tls or mqtt is a device that "timed out
 * mid-handshake": the endpoint started on its connection and did not finish in time, so both
 * sides' work was wasted, which is what admission control is for. A close or reset in phase
 * accept is the cheap early refusal (Portcullis's RATE_LIMITED before TLS); a timeout in phase
 * accept is an endpoint that neither refused nor served the connection.
 *
 *   refused   ECONNREFUSED: nothing accepted the connection (no listener, or a full queue that refuses)
 *   reset     ECONNRESET from a read or write: the endpoint sent a TCP reset
 *   closed    the endpoint closed (FIN) before the phase completed, without a TLS alert or CONNACK
 *   tls-alert the TLS layer failed with an error code (an alert from the endpoint, a bad certificate)
 *   connack   a CONNACK with a return code ≠ 0 (MQTT 3.1.1 §3.2.2.3; 3 = server unavailable)
 *   timeout   the device's own attempt timeout passed (mqtt.js `connectTimeout`)
 *   other     anything else, by its code
 */
export type StormPhase = 'tcp' | 'accept' | 'tls' | 'mqtt'
export type FailureKind = 'refused' | 'reset' | 'closed' | 'tls-alert' | 'connack' | 'timeout' | 'other'

export interface Failure {
  kind: FailureKind
  phase: StormPhase
  /** The error code (`ERR_SSL_…`, `EADDRNOTAVAIL`) or the CONNACK return code. */
  detail?: string
}

/** The key failures are counted under: `kind:phase`, or `kind:phase:detail` where a detail tells more. */
export function failureKey(f: Failure): string {
  return f.detail === undefined ? `${f.kind}:${f.phase}` : `${f.kind}:${f.phase}:${f.detail}`
}

/** True for a failure the goal counts as "timed out mid-handshake". */
export function isMidHandshakeTimeout(key: string): boolean {
  return key.startsWith('timeout:tls') || key.startsWith('timeout:mqtt')
}

/** A Node socket/TLS error in a phase, as a Failure. */
export function classifyError(err: NodeJS.ErrnoException, phase: StormPhase): Failure {
  const code = err.code
  if (code === 'ECONNREFUSED') return { kind: 'refused', phase }
  // Node reports a TLS client whose peer closed before the handshake finished as ECONNRESET with
  // no syscall ("Client network socket disconnected before secure TLS connection was
  // established"): that is a FIN. A reset read from the socket names its syscall.
  if (code === 'ECONNRESET' || code === 'EPIPE') return { kind: err.syscall === undefined ? 'closed' : 'reset', phase }
  if (code !== undefined && (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' || code.includes('CERT'))) {
    return { kind: 'tls-alert', phase, detail: code }
  }
  return { kind: 'other', phase, detail: code ?? err.message.slice(0, 60) }
}

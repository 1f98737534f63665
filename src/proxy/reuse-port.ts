/**
 * Per-worker listening sockets on one port (SO_REUSEPORT), so that the kernel spreads accepts over
 * the workers (issue 5: "all cores usable without a per-connection tax"). A listening socket
 * shared by every worker (node:cluster SCHED_NONE) wakes each of them for every connection and
 * lets them race for it; with a socket of its own per worker, the kernel picks one worker per
 * connection and wakes only that one.
 *
 * Node 20 cannot set SO_REUSEPORT itself (`listen({ reusePort })` arrived in Node 22.12), so the
 * socket is made by the prebuilt N-API binary of `node-unix-socket` for Linux x64
 * (`node-unix-socket-linux-x64-gnu`, an optional dependency: the package's JavaScript wrapper is
 * not used because it depends on binaries for other platforms that the registry does not serve,
 * which breaks `npm ci`). It binds the socket; Node listens on it. A cluster worker's
 * `listen({ fd })` would be forwarded to the primary, which cannot use the worker's descriptor, so
 * the descriptor is wrapped in a TCP handle and listened on directly (`listen(handle)`, which
 * node:cluster leaves to the worker). Where the binary is not available (another platform) or a
 * listener's host is a name rather than an address, `reusePortAvailable()` says no and the caller
 * falls back to the shared socket.
 *
 * A worker that dies takes the connections still waiting in its own accept queue with it (they
 * are reset); the primary restarts it, and the other workers keep accepting meanwhile.
 */

import { closeSync } from 'node:fs'
import { isIP } from 'node:net'

interface TcpHandle {
  open(fd: number): number
  getsockname(out: { address?: string; port?: number }): number
  close(): void
}

interface Native {
  socketNewSoReuseportFd(domain: 'ipv4' | 'ipv6', port: number, host: string): number
  TCP: new (type: number) => TcpHandle
  serverType: number
}

let native: Native | null | undefined

function load(): Native | null {
  if (native !== undefined) return native
  try {
    const { socketNewSoReuseportFd } = require('node-unix-socket-linux-x64-gnu') as Pick<Native, 'socketNewSoReuseportFd'>
    // process.binding is deprecated in the documentation only; tcp_wrap is the handle type that
    // net.Server.listen(handle) accepts, and there is no public way to make one from a descriptor.
    const binding = (process as unknown as { binding(name: string): { TCP: Native['TCP']; constants: { SERVER: number } } }).binding('tcp_wrap')
    native = { socketNewSoReuseportFd, TCP: binding.TCP, serverType: binding.constants.SERVER }
  } catch {
    native = null
  }
  return native
}

/** True when per-worker SO_REUSEPORT listeners can be made here for these hosts (IP addresses). */
export function reusePortAvailable(hosts: readonly string[]): boolean {
  return load() !== null && hosts.every((host) => isIP(host) !== 0)
}

/**
 * A socket bound (not listening) with SO_REUSEPORT, held by the primary: it fixes the port the
 * workers share when the configuration asks for port 0, and keeps it for the gateway while workers
 * restart. Connections are only ever given to listening sockets, so it receives none.
 */
export function reservePort(host: string, port: number): { port: number; release(): void } {
  const handle = boundHandle(host, port)
  const address: { port?: number } = {}
  const err = handle.getsockname(address)
  if (err !== 0 || address.port === undefined) {
    handle.close()
    throw new Error(`cannot read the port reserved on ${host}:${port} (${err})`)
  }
  return { port: address.port, release: () => handle.close() }
}

/** A bound SO_REUSEPORT socket as a TCP handle, for `net.Server.listen(handle)` in a worker. */
export function reusePortHandle(host: string, port: number): object {
  return boundHandle(host, port)
}

function boundHandle(host: string, port: number): TcpHandle {
  const n = load()
  if (n === null) throw new Error('SO_REUSEPORT listeners are not available here')
  const fd = n.socketNewSoReuseportFd(isIP(host) === 6 ? 'ipv6' : 'ipv4', port, host)
  const handle = new n.TCP(n.serverType)
  const err = handle.open(fd)
  if (err !== 0) {
    closeSync(fd)
    throw new Error(`cannot open the SO_REUSEPORT socket for ${host}:${port} (${err})`)
  }
  return handle
}

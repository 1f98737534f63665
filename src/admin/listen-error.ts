import { PortcullisError } from '../errors'

/**
 * A failure to listen at start (the admin API or a data listener), named for the operator: which
 * server, which address, and which config key to change. Without this, Node's `listen EADDRINUSE`
 * surfaced as INTERNAL with no hint of which of several ports was taken.
 */
export interface ListenTarget {
  /** `admin API` or `listener "mqtts"`. */
  what: string
  /** The config key of the port, e.g. `admin.port`, `listeners[2].port`. */
  portKey: string
  /** The config key of the host, e.g. `admin.host`, `listeners[2].host`. */
  hostKey: string
  host: string
  port: number
}

/** The PortcullisError for a listen failure Node names by errno; any other error is returned as is. */
export function listenError(err: unknown, target: ListenTarget): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code
  const address = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`
  const at = `${target.what} cannot listen on ${address}`
  switch (code) {
    case 'EADDRINUSE':
      return new PortcullisError('ADDRESS_IN_USE', `${at}: the address is already in use by another process; free it or change ${target.portKey}`, { cause: err })
    case 'EACCES':
      return new PortcullisError('LISTEN_FAILED', `${at}: permission denied (ports below 1024 need privileges); change ${target.portKey}`, { cause: err })
    case 'EADDRNOTAVAIL':
      return new PortcullisError('LISTEN_FAILED', `${at}: ${target.host} is not an address of this machine; change ${target.hostKey}`, { cause: err })
    default:
      return err
  }
}

/** Runs `listen`, mapping its failure with listenError. */
export async function listenOrExplain<T>(target: ListenTarget, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen()
  } catch (err) {
    throw listenError(err, target)
  }
}

import { createSecureContext, type SecureContext } from 'node:tls'
import type { InstanceRecord } from '../store/records'
import type { InstanceDirectory } from './instance-directory'

export interface KeyPair {
  cert: string
  key: string
}

/**
 * Server-side TLS contexts: the default certificate, and one per instance that brings its own
 * (DESIGN §3: "A TLS listener serves the instance's own server certificate for its hostnames,
 * else the default one"). Contexts are built once and reused by every handshake; an instance
 * change drops its entry, and `replaceDefault` swaps the default one, so certificates are
 * replaced without a restart.
 */
export class TlsContexts {
  private defaultContext: SecureContext
  private readonly perInstance = new Map<string, SecureContext>()
  private readonly unsubscribe: () => void

  constructor(defaultPair: KeyPair, directory: InstanceDirectory) {
    this.defaultContext = build(defaultPair)
    this.unsubscribe = directory.onChange((id) => this.perInstance.delete(id))
  }

  get default(): SecureContext {
    return this.defaultContext
  }

  replaceDefault(pair: KeyPair): void {
    this.defaultContext = build(pair)
  }

  forInstance(instance: InstanceRecord): SecureContext {
    const own = instance.serverCertificate
    if (own === undefined) return this.defaultContext
    let ctx = this.perInstance.get(instance.id)
    if (ctx === undefined) {
      ctx = build({ cert: own.certificate, key: own.privateKey })
      this.perInstance.set(instance.id, ctx)
    }
    return ctx
  }

  close(): void {
    this.unsubscribe()
  }
}

function build(pair: KeyPair): SecureContext {
  return createSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' })
}

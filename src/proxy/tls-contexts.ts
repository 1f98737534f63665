import { createHash } from 'node:crypto'
import { createSecureContext, type SecureContext } from 'node:tls'
import type { InstanceRecord } from '../store/records'
import { tlsProfileOptions, type TlsProfileName } from '../tls/profiles'
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
 * replaced without a restart. Every context carries the same TLS profile (tls/profiles.ts:
 * versions, suites, groups, no renegotiation), so no instance certificate weakens the listener.
 */
export class TlsContexts {
  private defaultPair: KeyPair
  private defaultContext: SecureContext
  private readonly perInstance = new Map<string, SecureContext>()
  private readonly unsubscribe: () => void
  private rotation: NodeJS.Timeout | undefined

  /** `ticketKeys` answers the session ticket keys in force now (see tls/ticket-keys.ts). */
  constructor(
    defaultPair: KeyPair,
    directory: InstanceDirectory,
    private readonly ticketKeys: () => Buffer,
    private readonly profile: TlsProfileName = 'intermediate',
  ) {
    this.defaultPair = defaultPair
    this.defaultContext = this.build(defaultPair, 'default')
    this.unsubscribe = directory.onChange((id) => this.perInstance.delete(id))
  }

  /** Rebuilds every context with the ticket keys in force now; `delay` says when to do it next. */
  scheduleTicketRotation(delay: () => number): void {
    this.rotation = setTimeout(() => {
      this.defaultContext = this.build(this.defaultPair, 'default')
      this.perInstance.clear()
      this.scheduleTicketRotation(delay)
    }, delay())
    this.rotation.unref()
  }

  get default(): SecureContext {
    return this.defaultContext
  }

  /**
   * New handshakes present `pair` from now on; a TLS session already established keeps the
   * certificate it began with (nothing here touches a live socket). The ticket keys stay those of
   * the epoch, so a ticket issued before still resumes. Built before anything is swapped: a pair
   * that does not build (a key of another certificate) throws and leaves the running one in place.
   */
  replaceDefault(pair: KeyPair): void {
    const context = this.build(pair, 'default')
    this.defaultPair = pair
    this.defaultContext = context
    this.perInstance.clear()
  }

  /**
   * Every instance gets a context of its own, with its own session id context, even when it
   * serves the default certificate: a session established for one tenant must never resume on
   * another (OpenSSL refuses a ticket whose session id context differs).
   */
  forInstance(instance: InstanceRecord): SecureContext {
    let ctx = this.perInstance.get(instance.id)
    if (ctx === undefined) {
      const own = instance.serverCertificate
      const pair = own === undefined ? this.defaultPair : { cert: own.certificate, key: own.privateKey }
      ctx = this.build(pair, `instance:${instance.id}`)
      this.perInstance.set(instance.id, ctx)
    }
    return ctx
  }

  close(): void {
    this.unsubscribe()
    if (this.rotation !== undefined) clearTimeout(this.rotation)
  }

  private build(pair: KeyPair, scope: string): SecureContext {
    return createSecureContext({
      ...tlsProfileOptions(this.profile),
      cert: pair.cert,
      key: pair.key,
      ticketKeys: this.ticketKeys(),
      sessionTimeout: SESSION_TIMEOUT_S,
      // Needed for resumption when client certificates are requested; at most 32 bytes.
      sessionIdContext: createHash('sha256').update(`portcullis ${scope}`).digest('hex').slice(0, 32),
    })
  }
}

/** How long a resumed session may be resumed from its ticket (seconds), within one key epoch. */
const SESSION_TIMEOUT_S = 3600

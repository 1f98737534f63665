import type { AuditEventType, AuditInput } from '../audit/event'
import type { Logger } from '../observability/logger'
import { NO_INSTANCE, type Metrics } from '../observability/metrics'
import type { InstanceDirectory } from '../proxy/instance-directory'
import type { KeyPair } from '../proxy/tls-contexts'
import type { InstanceRecord } from '../store/records'
import { certificateFacts, type CertificateFacts } from './certificate-facts'

/** What made the presented certificate change (audit `details.source`). */
export const ROTATION_SOURCES = ['files', 'reload', 'instance'] as const
export type RotationSource = (typeof ROTATION_SOURCES)[number]

/** The audit type of a rotation (docs/audit.md). */
export const CERTIFICATE_ROTATED: AuditEventType = 'tls.certificate.rotated'

export interface ServerCertificateDeps {
  metrics: Pick<Metrics, 'certificateExpiry' | 'certificateRotations'>
  audit: { record(input: AuditInput): unknown }
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
}

/**
 * Which server certificate each instance presents to new handshakes (DESIGN §4 "Operations and
 * keys"), told by the parts that change it: the default pair's file watcher and a reload
 * (`presentDefault`), an instance's own `serverCertificate` through the instance directory, so on
 * every replica, whichever one took the PATCH (`follow`). For each it keeps
 * `portcullis_certificate_expiry_seconds{instance,kind="server"}` (instance `-` for the default
 * pair; an instance without its own certificate presents that one and has no series of its own),
 * and each time the presented certificate really changes (another fingerprint: a resync or a PATCH
 * of other fields re-announces the same one) counts `portcullis_certificate_rotations_total` and
 * records `tls.certificate.rotated` with both fingerprints and the new notAfter. Each process
 * records its own: each is a place that now presents the new certificate.
 *
 * It changes no TLS context (tls-contexts.ts does) and closes no session: live sessions keep the
 * certificate they were established with, as TLS has it.
 */
export class ServerCertificates {
  private defaultFacts: CertificateFacts | undefined
  /** Instances that present a certificate of their own. */
  private readonly own = new Map<string, CertificateFacts>()

  constructor(private readonly deps: ServerCertificateDeps) {}

  /** The default pair in force now; the first call (at start) is the baseline, not a rotation. */
  presentDefault(pair: KeyPair, source: Exclude<RotationSource, 'instance'>): void {
    const facts = certificateFacts(pair.cert)
    const before = this.defaultFacts
    this.defaultFacts = facts
    this.deps.metrics.certificateExpiry.set({ instance: NO_INSTANCE, kind: 'server' }, facts.notAfterSeconds)
    if (before !== undefined && before.fingerprint !== facts.fingerprint) this.rotated(NO_INSTANCE, source, before, facts)
  }

  /** Follows the instances' own certificates from now on; answers the unsubscribe. */
  follow(directory: Pick<InstanceDirectory, 'all' | 'onChange'>): () => void {
    for (const record of directory.all()) this.instanceChanged(record.id, record, undefined)
    const unsubscribe = directory.onChange((id, current, previous) => this.instanceChanged(id, current, previous))
    return () => {
      unsubscribe()
      for (const id of this.own.keys()) this.deps.metrics.certificateExpiry.remove({ instance: id, kind: 'server' })
      this.own.clear()
    }
  }

  private instanceChanged(id: string, current: InstanceRecord | undefined, previous: InstanceRecord | undefined): void {
    const before = this.own.get(id)
    const pem = current?.serverCertificate?.certificate
    let after: CertificateFacts | undefined
    if (pem !== undefined) {
      try {
        after = certificateFacts(pem)
      } catch (err) {
        // Its handshakes fail too (no context builds): say so, and keep no expiry that would lie.
        this.deps.logger.error({ instance: id, err: (err as Error).message }, 'instance server certificate does not parse')
      }
    }
    if (after === undefined) {
      this.own.delete(id)
      this.deps.metrics.certificateExpiry.remove({ instance: id, kind: 'server' })
    } else {
      this.own.set(id, after)
      this.deps.metrics.certificateExpiry.set({ instance: id, kind: 'server' }, after.notAfterSeconds)
    }
    // A new instance, a deleted one, or one withdrawn (its secrets do not open) rotates nothing.
    if (current === undefined || previous === undefined) return
    const was = before ?? this.defaultFacts
    const now = after ?? this.defaultFacts
    if (was === undefined || now === undefined || was.fingerprint === now.fingerprint) return
    this.rotated(id, 'instance', was, now)
  }

  private rotated(instance: string, source: RotationSource, before: CertificateFacts, after: CertificateFacts): void {
    this.deps.metrics.certificateRotations.inc({ instance, kind: 'server' })
    const details = {
      instance, kind: 'server', source,
      fingerprintBefore: before.fingerprint, fingerprintAfter: after.fingerprint, notAfter: after.notAfter,
    }
    this.deps.audit.record({
      type: CERTIFICATE_ROTATED, outcome: 'success', actor: { kind: 'system' },
      ...(instance !== NO_INSTANCE ? { instanceId: instance } : {}), details,
    })
    this.deps.logger.info(details, 'server certificate rotated: new handshakes present the new one')
  }
}

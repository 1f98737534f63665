import type { CaRecord } from '../store/records'
import type { Store } from '../store/store'
import type { Metrics } from './metrics'

/**
 * Keeps `portcullis_ca_certificates{instance,status}` and
 * `portcullis_certificate_expiry_seconds{instance,kind="ca"}` equal to the registry: counted once at
 * start, then recounted for one instance whenever one of its CAs changes (on any replica), so every
 * replica shows the same.
 *
 * The expiry is that of the earliest-expiring ACTIVE CA of the instance, one series per instance
 * rather than one per CA: the alert needs only the soonest deadline, and once that CA is
 * deactivated (its successor registered and its devices moved) the series moves on to the next
 * one by itself. `portcullis ca list` names the CA. An INACTIVE CA admits nobody, so its expiry
 * threatens no device; an instance without an ACTIVE CA has no series.
 */
export async function watchCaGauge(store: Store, metrics: Pick<Metrics, 'caCertificates' | 'certificateExpiry'>): Promise<() => void> {
  const recount = async (instanceId: string): Promise<void> => {
    const cas = await store.list('cas', instanceId)
    const active = cas.filter((ca) => ca.status === 'ACTIVE')
    metrics.caCertificates.set({ instance: instanceId, status: 'ACTIVE' }, active.length)
    metrics.caCertificates.set({ instance: instanceId, status: 'INACTIVE' }, cas.length - active.length)
    const soonest = earliestNotAfter(active)
    if (soonest === undefined) metrics.certificateExpiry.remove({ instance: instanceId, kind: 'ca' })
    else metrics.certificateExpiry.set({ instance: instanceId, kind: 'ca' }, Math.floor(soonest / 1000))
  }
  const unsubscribe = store.onChange((event) => {
    if (event.collection === 'cas') recount(event.scope).catch(() => undefined)
  })
  for (const scope of await store.scopes('cas')) await recount(scope)
  return unsubscribe
}

/** Milliseconds since the epoch of the earliest notAfter; undefined for none (or none that parses). */
export function earliestNotAfter(cas: readonly Pick<CaRecord, 'notAfter'>[]): number | undefined {
  let soonest: number | undefined
  for (const ca of cas) {
    const at = Date.parse(ca.notAfter)
    if (!Number.isNaN(at) && (soonest === undefined || at < soonest)) soonest = at
  }
  return soonest
}

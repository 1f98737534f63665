import type { Store } from '../store/store'
import type { Metrics } from './metrics'

/**
 * Keeps `portcullis_ca_certificates{instance,status}` and `portcullis_ca_certificate_not_after_seconds`
 * equal to the registry: counted once at start, then recounted for one instance whenever one of
 * its CAs changes (on any replica). At most 32 CAs per instance, so the expiry series stay few.
 */
export async function watchCaGauge(store: Store, metrics: Metrics): Promise<() => void> {
  const expirySeries = new Map<string, Array<{ instance: string; ca: string; status: string }>>()
  const recount = async (instanceId: string): Promise<void> => {
    const cas = await store.list('cas', instanceId)
    const active = cas.filter((ca) => ca.status === 'ACTIVE').length
    metrics.caCertificates.set({ instance: instanceId, status: 'ACTIVE' }, active)
    metrics.caCertificates.set({ instance: instanceId, status: 'INACTIVE' }, cas.length - active)
    for (const labels of expirySeries.get(instanceId) ?? []) metrics.caNotAfter.remove(labels)
    const series = cas.map((ca) => ({ instance: instanceId, ca: ca.id, status: ca.status }))
    for (const [i, ca] of cas.entries()) metrics.caNotAfter.set(series[i] as (typeof series)[number], Date.parse(ca.notAfter) / 1000)
    expirySeries.set(instanceId, series)
  }
  const unsubscribe = store.onChange((event) => {
    if (event.collection === 'cas') recount(event.scope).catch(() => undefined)
  })
  for (const scope of await store.scopes('cas')) await recount(scope)
  return unsubscribe
}

import type { Store } from '../store/store'
import type { Metrics } from './metrics'

/**
 * Keeps `portcullis_ca_certificates{instance,status}` equal to the registry: counted once at start,
 * then recounted for one instance whenever one of its CAs changes (on any replica).
 */
export async function watchCaGauge(store: Store, metrics: Metrics): Promise<() => void> {
  const recount = async (instanceId: string): Promise<void> => {
    const cas = await store.list('cas', instanceId)
    const active = cas.filter((ca) => ca.status === 'ACTIVE').length
    metrics.caCertificates.set({ instance: instanceId, status: 'ACTIVE' }, active)
    metrics.caCertificates.set({ instance: instanceId, status: 'INACTIVE' }, cas.length - active)
  }
  const unsubscribe = store.onChange((event) => {
    if (event.collection === 'cas') recount(event.scope).catch(() => undefined)
  })
  for (const scope of await store.scopes('cas')) await recount(scope)
  return unsubscribe
}

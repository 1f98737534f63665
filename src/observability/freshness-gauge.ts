import type { FreshnessState, StoreFreshness } from '../store/freshness'
import type { Metrics } from './metrics'

const STATES: ReadonlyArray<FreshnessState['name']> = ['fresh', 'reconnecting', 'stale']

/**
 * Keeps `portcullis_store_freshness{state}` equal to the replica's freshness: every state has a
 * series (so `== 1` and `absent` queries behave), 1 for the current one, 0 for the others.
 */
export function watchFreshnessGauge(freshness: Pick<StoreFreshness, 'state' | 'onChange'>, metrics: Metrics): () => void {
  const show = (current: FreshnessState): void => {
    for (const state of STATES) metrics.storeFreshness.set({ state }, state === current.name ? 1 : 0)
  }
  show(freshness.state())
  return freshness.onChange(show)
}

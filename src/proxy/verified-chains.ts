import type { X509Certificate } from 'node:crypto'
import type { CaTrustIndex, ChainVerdict } from '../ca/chain'
import type { CaRecord } from '../store/records'

type Verified = { ca: CaRecord; fromMs: number; untilMs: number }

/** Entries kept per trust index; a device fleet larger than this re-verifies the overflow. */
const MAX_ENTRIES = 100_000

/**
 * Chains already verified against one trust index, by leaf fingerprint: a device that reconnects
 * (the common case, and the whole of a reconnect storm) costs a map lookup instead of signature
 * checks. The cache hangs off the index object, so any change to the instance's CAs — which
 * builds a new index — starts an empty one; an entry is used only inside the validity window of
 * every certificate on its path, so expiry is never missed.
 */
const caches = new WeakMap<CaTrustIndex, Map<string, Verified>>()

export function cachedVerdict(index: CaTrustIndex, leaf: X509Certificate, nowMs: number): CaRecord | undefined {
  const hit = caches.get(index)?.get(leaf.fingerprint256)
  if (hit === undefined || nowMs < hit.fromMs || nowMs > hit.untilMs) return undefined
  return hit.ca
}

export function remember(index: CaTrustIndex, verdict: Extract<ChainVerdict, { ok: true }>): void {
  let cache = caches.get(index)
  if (cache === undefined) {
    cache = new Map()
    caches.set(index, cache)
  }
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string)
  let fromMs = Date.parse(verdict.ca.notBefore)
  let untilMs = Date.parse(verdict.ca.notAfter)
  for (const cert of [verdict.leaf, ...verdict.intermediates]) {
    fromMs = Math.max(fromMs, Date.parse(cert.validFrom))
    untilMs = Math.min(untilMs, Date.parse(cert.validTo))
  }
  cache.set(verdict.leaf.fingerprint256, { ca: verdict.ca, fromMs, untilMs })
}

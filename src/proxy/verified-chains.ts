import { createHash } from 'node:crypto'
import type { X509Certificate } from 'node:crypto'
import type { CaTrustIndex, ChainRefusal, ChainVerdict } from '../ca/chain'
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

/** `fingerprint256` as Node gives it (colon-separated upper-case hex), of the presented leaf. */
export function cachedVerdict(index: CaTrustIndex, fingerprint256: string, nowMs: number): CaRecord | undefined {
  const hit = caches.get(index)?.get(fingerprint256)
  if (hit === undefined || nowMs < hit.fromMs || nowMs > hit.untilMs) return undefined
  return hit.ca
}

/** A verdict as it can be handed to another process (chain-verdict-sharing.ts). */
export interface VerifiedLeaf {
  readonly fingerprint256: string
  readonly caId: string
  readonly fromMs: number
  readonly untilMs: number
}

/** Caches a verified chain; returns what was cached. */
export function remember(index: CaTrustIndex, verdict: Extract<ChainVerdict, { ok: true }>): VerifiedLeaf {
  let fromMs = Date.parse(verdict.ca.notBefore)
  let untilMs = Date.parse(verdict.ca.notAfter)
  for (const cert of [verdict.leaf, ...verdict.intermediates]) {
    fromMs = Math.max(fromMs, Date.parse(cert.validFrom))
    untilMs = Math.min(untilMs, Date.parse(cert.validTo))
  }
  store(index, verdict.leaf.fingerprint256, { ca: verdict.ca, fromMs, untilMs })
  return { fingerprint256: verdict.leaf.fingerprint256, caId: verdict.ca.id, fromMs, untilMs }
}

/**
 * Caches a verdict another process reached under an index with the same digest (the caller
 * checks that), against this process's own record of the anchoring CA: false, and nothing cached,
 * when this index has no usable, active CA of that id.
 */
export function adopt(index: CaTrustIndex, verified: VerifiedLeaf): boolean {
  const ca = index.recordOf(verified.caId)
  // Validation under this index could only have anchored on an active CA; anything else is no
  // verdict this index would give.
  if (ca === undefined || ca.status !== 'ACTIVE') return false
  store(index, verified.fingerprint256, { ca, fromMs: verified.fromMs, untilMs: verified.untilMs })
  return true
}

function store(index: CaTrustIndex, fingerprint256: string, entry: Verified): void {
  let cache = caches.get(index)
  if (cache === undefined) {
    cache = new Map()
    caches.set(index, cache)
  }
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value as string)
  cache.set(fingerprint256, entry)
}

type Refused = { reason: ChainRefusal; detail: string | undefined; untilMs: number }

/**
 * Chains refused after path validation ran (profile or RFC 5280), by the whole presented chain:
 * a device with a bad certificate that reconnects in a loop must not start a validation each
 * time. Kept briefly (REFUSAL_TTL_MS) and bounded; a CA change builds a new index and starts over.
 */
export const REFUSAL_TTL_MS = 60_000
const MAX_REFUSALS = 10_000
const refusals = new WeakMap<CaTrustIndex, Map<string, Refused>>()

export function chainKey(presented: readonly X509Certificate[]): string {
  const hash = createHash('sha256')
  for (const cert of presented) hash.update(cert.fingerprint256)
  return hash.digest('hex')
}

export function cachedRefusal(index: CaTrustIndex, key: string, nowMs: number): Refused | undefined {
  const hit = refusals.get(index)?.get(key)
  return hit !== undefined && nowMs <= hit.untilMs ? hit : undefined
}

export function rememberRefusal(index: CaTrustIndex, key: string, reason: ChainRefusal, detail: string | undefined, nowMs: number): void {
  let cache = refusals.get(index)
  if (cache === undefined) {
    cache = new Map()
    refusals.set(index, cache)
  }
  if (cache.size >= MAX_REFUSALS) cache.delete(cache.keys().next().value as string)
  cache.set(key, { reason, detail, untilMs: nowMs + REFUSAL_TTL_MS })
}

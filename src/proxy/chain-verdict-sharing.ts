import type { BroadcastMessage, Store } from '../store/store'
import type { CaTrustIndex } from '../ca/chain'
import type { TrustIndexCache } from './trust-cache'
import { adopt, type VerifiedLeaf } from './verified-chains'

const TOPIC = 'chains.verified'
const FINGERPRINT = /^(?:[0-9A-F]{2}:){31}[0-9A-F]{2}$/
const HEX64 = /^[0-9a-f]{64}$/

/**
 * Chain verdicts shared between the gateway processes of one store (workers, replicas): a chain
 * one process has validated in full is not validated again by the others.
 *
 * Why: each process caches verified chains (verified-chains.ts), but after an outage a device
 * seldom comes back to the process it left, and a chain new to a process costs path validation
 * and an `openssl verify` child process (20–35 ms, two at a time). With `workers: 2` a reconnect
 * storm of a primed fleet validated about half of it again (docs/benchmarks.md "Why workers: 2
 * falls so far behind in the storm").
 *
 * How: after a full validation the process broadcasts the leaf's fingerprint, the anchoring CA,
 * the validity window and the digest of the trust index it decided under (trust-digest.ts: every
 * CA record of the instance and the rules version). A process adopts it only into its current,
 * built index of that instance with the same digest, against its own record of that CA; anything
 * else — an index not built yet, another digest (a CA changed, another release), a malformed
 * message — is ignored, and that process validates the chain itself when the device comes. A
 * broadcast comes through the store, so trusting it is trusting the store, which already holds
 * the CAs themselves.
 */
export class ChainVerdictSharing {
  private readonly unsubscribe: () => void
  /** Verdicts taken from other processes since start (tests and diagnostics). */
  adopted = 0

  constructor(
    private readonly store: Pick<Store, 'kind' | 'broadcast' | 'onBroadcast'>,
    private readonly trust: Pick<TrustIndexCache, 'cached'>,
    /** This process's id, as the store stamps it on broadcasts: its own are not adopted again. */
    private readonly processId: string,
  ) {
    this.unsubscribe = store.kind === 'redis' ? store.onBroadcast((message) => this.onMessage(message)) : () => undefined
  }

  /** Tells the other processes of a chain this one has just validated under `index`. */
  share(instanceId: string, index: CaTrustIndex, verified: VerifiedLeaf): void {
    // One process owns an embedded store: there is nobody to tell.
    if (this.store.kind !== 'redis') return
    // Best effort: a lost hint costs another process a validation, never a wrong answer.
    this.store.broadcast(TOPIC, { instanceId, digest: index.digest, ...verified }).catch(() => undefined)
  }

  close(): void {
    this.unsubscribe()
  }

  private onMessage(message: BroadcastMessage): void {
    if (message.topic !== TOPIC || message.origin === this.processId) return
    const hint = parseHint(message.payload)
    if (hint === undefined) return
    const index = this.trust.cached(hint.instanceId)
    if (index === undefined || index.digest !== hint.digest) return
    if (adopt(index, hint.verified)) this.adopted++
  }
}

function parseHint(payload: Record<string, unknown>): { instanceId: string; digest: string; verified: VerifiedLeaf } | undefined {
  const { instanceId, digest, fingerprint256, caId, fromMs, untilMs } = payload
  if (typeof instanceId !== 'string' || typeof digest !== 'string' || !HEX64.test(digest)) return undefined
  if (typeof fingerprint256 !== 'string' || !FINGERPRINT.test(fingerprint256)) return undefined
  if (typeof caId !== 'string' || !HEX64.test(caId)) return undefined
  if (typeof fromMs !== 'number' || typeof untilMs !== 'number' || !Number.isFinite(fromMs) || !Number.isFinite(untilMs) || fromMs > untilMs) return undefined
  return { instanceId, digest, verified: { fingerprint256, caId, fromMs, untilMs } }
}

import { createHash } from 'node:crypto'
import { canonicalJson } from '../audit/canonical-json'
import type { CaRecord } from '../store/records'

/**
 * What a chain verdict was decided under, as one digest: every CA record of the instance (all
 * members, so a status change, a re-registration or any other edit gives another digest) and the
 * version of the rules that decide. Processes that share a store build the same digest from the
 * same records; a verdict shared between them (src/proxy/chain-verdict-sharing.ts) is used only
 * under an identical one.
 *
 * Bump CHAIN_RULES_VERSION with any change to what chain.ts, profile.ts, openssl-verify.ts or
 * validate.ts accept, so that processes of the old and the new release never use each other's
 * verdicts during a rolling upgrade.
 */
export const CHAIN_RULES_VERSION = 1

export function trustDigest(records: readonly CaRecord[]): string {
  const hash = createHash('sha256').update(`portcullis trust index; chain rules ${CHAIN_RULES_VERSION}\n`)
  const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  for (const record of sorted) hash.update(canonicalJson(record)).update('\n')
  return hash.digest('hex')
}

import { sha256Hex } from '../api/signing'

/**
 * Audit hash-chain verification in the page, the rule of src/audit/hash-chain.ts and
 * src/audit/verify.ts applied to the events the API returns (`GET /v1/audit`):
 *
 *   hash = lowercase hex SHA-256( UTF-8( prev + canonicalJson(event without `hash`) ) )
 *
 * Events are grouped by their `chain` member (one per gateway process); within a chain each
 * event's `prev` must be the previous event's `hash`, or, after an `audit.gap`, the gap's
 * `details.resumeFrom`. The API holds a window of the log (the in-memory ring or the Redis
 * stream), not its start, so the first event of each chain may have any `prev` (the CLI's
 * `audit verify --partial`); the whole file is verified by `portcullis audit verify FILE`.
 */

/**
 * Canonical JSON (src/audit/canonical-json.ts): members sorted by UTF-16 code units, undefined
 * members left out, scalars as JSON.stringify writes them, no whitespace.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const record = value as Record<string, unknown>
  const members: string[] = []
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`)
  }
  return `{${members.join(',')}}`
}

export async function eventHash(event: Record<string, unknown>): Promise<string> {
  const { hash: _hash, ...body } = event
  return sha256Hex(String(body['prev']) + canonicalJson(body))
}

const CHAIN_HASH = /^[0-9a-f]{64}$/

export type ChainProblem = 'hash-mismatch' | 'prev-mismatch' | 'unparsable'

export type ChainReport =
  | { ok: true; count: number; chains: number; gaps: number; lost: number }
  | { ok: false; index: number; eventId?: string; chain?: string; problem: ChainProblem; count: number }

/** Verifies events in the order given (oldest first, as the API answers them). */
export async function verifyEvents(events: readonly unknown[]): Promise<ChainReport> {
  const tails = new Map<string, string>()
  const resumes = new Map<string, string>()
  let gaps = 0
  let lost = 0
  for (const [index, item] of events.entries()) {
    const fail = (problem: ChainProblem, event?: Record<string, unknown>): ChainReport => ({
      ok: false, index, problem, count: index,
      ...(typeof event?.['id'] === 'string' ? { eventId: event['id'] } : {}),
      ...(typeof event?.['chain'] === 'string' ? { chain: event['chain'] } : {}),
    })
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail('unparsable')
    const event = item as Record<string, unknown>
    const chain = event['chain']
    if ((chain !== undefined && typeof chain !== 'string') || !CHAIN_HASH.test(String(event['prev'])) || !CHAIN_HASH.test(String(event['hash']))) return fail('unparsable', event)
    if ((await eventHash(event)) !== event['hash']) return fail('hash-mismatch', event)
    const key = chain ?? ''
    const tail = tails.get(key)
    if (tail !== undefined && event['prev'] !== tail && event['prev'] !== resumes.get(key)) return fail('prev-mismatch', event)
    tails.set(key, event['hash'] as string)
    resumes.delete(key)
    if (event['type'] === 'audit.gap') {
      const details = event['details'] as Record<string, unknown> | undefined
      const gapLost = details?.['lost']
      const resumeFrom = details?.['resumeFrom']
      if (typeof gapLost !== 'number' || !Number.isInteger(gapLost) || gapLost < 1 || typeof resumeFrom !== 'string' || !CHAIN_HASH.test(resumeFrom)) return fail('unparsable', event)
      resumes.set(key, resumeFrom)
      gaps++
      lost += gapLost
    }
  }
  return { ok: true, count: events.length, chains: tails.size, gaps, lost }
}

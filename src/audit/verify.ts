import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { GENESIS_PREV } from './event'
import { computeEventHash, isChainHash } from './hash-chain'

export type VerifyResult =
  | { ok: true; count: number }
  | { ok: false; line: number; eventId?: string; problem: 'hash-mismatch' | 'prev-mismatch' | 'unparsable' }

export interface VerifyOptions {
  /**
   * `prev` expected of the first event: GENESIS_PREV by default (a whole file); 'any' to start from
   * wherever the input starts (a Redis stream trimmed by MAXLEN, an excerpt).
   */
  firstPrev?: string | 'any'
}

/**
 * Checks an audit chain given as JSON lines (DESIGN §3, `portcullis audit verify FILE`) and names
 * the first broken link by 1-based line number. Blank lines are skipped but still counted, so the
 * number is the file's own line number. For each event, in order:
 *   1. the line must parse as a JSON object with 64-hex `prev` and `hash` — else 'unparsable';
 *   2. `hash` must equal SHA-256(prev + canonicalJson(event without hash)) — else 'hash-mismatch'
 *      (the event was altered);
 *   3. `prev` must equal the previous event's `hash` — else 'prev-mismatch' (an event was deleted,
 *      inserted or moved before this line).
 */
export async function verifyChain(
  lines: AsyncIterable<string> | Iterable<string>,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  let expectedPrev: string | undefined = opts.firstPrev === 'any' ? undefined : (opts.firstPrev ?? GENESIS_PREV)
  let lineNo = 0
  let count = 0
  for await (const raw of lines) {
    lineNo++
    if (raw.trim() === '') continue
    const event = parseEvent(raw)
    if (event === undefined) return { ok: false, line: lineNo, problem: 'unparsable' }
    const eventId = typeof event['id'] === 'string' ? { eventId: event['id'] } : {}
    if (computeEventHash(event) !== event['hash']) return { ok: false, line: lineNo, ...eventId, problem: 'hash-mismatch' }
    if (expectedPrev !== undefined && event['prev'] !== expectedPrev) {
      return { ok: false, line: lineNo, ...eventId, problem: 'prev-mismatch' }
    }
    expectedPrev = event['hash'] as string
    count++
  }
  return { ok: true, count }
}

/** Verifies an audit file, streaming it line by line (files may be large). */
export async function verifyFile(path: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const input = createReadStream(path, { encoding: 'utf8' })
  const lines = createInterface({ input, crlfDelay: Infinity })
  try {
    return await verifyChain(lines, opts)
  } finally {
    lines.close()
    input.destroy()
  }
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const record = parsed as Record<string, unknown>
  return isChainHash(record['prev']) && isChainHash(record['hash']) ? record : undefined
}

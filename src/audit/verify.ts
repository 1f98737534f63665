import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { AUDIT_GAP_TYPE, GENESIS_PREV } from './event'
import { computeEventHash, isChainHash } from './hash-chain'

export type VerifyResult =
  | {
      ok: true
      count: number
      /** How many chains the input held; present only when its events name their chain. */
      chains?: number
      /** `audit.gap` events found, and the events they say are missing; present only when there are gaps. */
      gaps?: number
      lost?: number
    }
  | {
      ok: false
      line: number
      eventId?: string
      /** The broken event's `chain`, when it names one. */
      chain?: string
      problem: 'hash-mismatch' | 'prev-mismatch' | 'unparsable'
    }

export interface VerifyOptions {
  /**
   * `prev` expected of the first event: GENESIS_PREV by default (a whole file); 'any' to start from
   * wherever the input starts (a Redis stream trimmed by MAXLEN, an excerpt). With several chains
   * this applies to the first event of each chain.
   */
  firstPrev?: string | 'any'
}

/**
 * How many of the latest hashes a new chain may start from. A restarted gateway continues its
 * file's last hash under a new chain id; in a file shared by several processes, that hash may be
 * followed by a few other events before the new chain's first event lands. Bounded so that
 * verifying a file of any size takes constant memory per chain.
 */
const CONTINUATION_WINDOW = 10_000

/**
 * Checks audit chains given as JSON lines (DESIGN §3, `portcullis audit verify FILE`) and names
 * the first broken link by 1-based line number. Blank lines are skipped but still counted, so the
 * number is the file's own line number.
 *
 * Events are grouped by their top-level `chain` member (absent = the one unnamed chain), so that
 * several processes' chains interleaved in one stream or file each verify on their own. For each
 * event, in order:
 *   1. the line must parse as a JSON object with 64-hex `prev` and `hash` (and a string `chain`
 *      when present) — else 'unparsable';
 *   2. `hash` must equal SHA-256(prev + canonicalJson(event without hash)) — else 'hash-mismatch'
 *      (the event was altered; `chain` is hashed too, so an event cannot be moved to another chain);
 *   3. `prev` must equal the `hash` of the previous event of the same chain — else 'prev-mismatch'
 *      (an event was deleted, inserted or moved before this line). The first event of a chain must
 *      start at `firstPrev` (GENESIS_PREV by default) or at genesis, or continue one of the
 *      CONTINUATION_WINDOW events before it (a restart continuing its file under a new chain id).
 *   4. an `audit.gap` event (a sink lost events there, docs/audit.md "Gaps") links like any other;
 *      the next event of its chain may then continue from the gap's `details.resumeFrom` (the last
 *      lost event) or from the gap itself. A gap without a positive integer `details.lost` and a
 *      64-hex `details.resumeFrom` is 'unparsable'. The gaps and what they lack are reported.
 */
export async function verifyChain(
  lines: AsyncIterable<string> | Iterable<string>,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const anyStart = opts.firstPrev === 'any'
  const starts = new Set([GENESIS_PREV, ...(opts.firstPrev !== undefined && !anyStart ? [opts.firstPrev] : [])])
  const tails = new Map<string, string>()
  /** After a gap: the other hash the next event of that chain may continue. */
  const resumes = new Map<string, string>()
  let gaps = 0
  let lost = 0
  const recent = new RecentHashes(CONTINUATION_WINDOW)
  let named = false
  let lineNo = 0
  let count = 0
  for await (const raw of lines) {
    lineNo++
    if (raw.trim() === '') continue
    const event = parseEvent(raw)
    if (event === undefined) return { ok: false, line: lineNo, problem: 'unparsable' }
    const chain = event['chain'] as string | undefined
    const where = {
      line: lineNo,
      ...(typeof event['id'] === 'string' ? { eventId: event['id'] } : {}),
      ...(chain !== undefined ? { chain } : {}),
    }
    if (computeEventHash(event) !== event['hash']) return { ok: false, ...where, problem: 'hash-mismatch' }
    const prev = event['prev'] as string
    const key = chain ?? ''
    const tail = tails.get(key)
    const linked = tail !== undefined
      ? prev === tail || prev === resumes.get(key)
      : anyStart || starts.has(prev) || recent.has(prev)
    if (!linked) return { ok: false, ...where, problem: 'prev-mismatch' }
    const hash = event['hash'] as string
    tails.set(key, hash)
    resumes.delete(key)
    recent.add(hash)
    if (event['type'] === AUDIT_GAP_TYPE) {
      const gap = gapOf(event)
      if (gap === undefined) return { ok: false, ...where, problem: 'unparsable' }
      resumes.set(key, gap.resumeFrom)
      gaps++
      lost += gap.lost
    }
    named ||= chain !== undefined
    count++
  }
  return {
    ok: true, count,
    ...(named ? { chains: tails.size } : {}),
    ...(gaps > 0 ? { gaps, lost } : {}),
  }
}

function gapOf(event: Record<string, unknown>): { lost: number; resumeFrom: string } | undefined {
  const details = event['details'] as Record<string, unknown> | undefined
  const lost = details?.['lost']
  const resumeFrom = details?.['resumeFrom']
  if (typeof lost !== 'number' || !Number.isInteger(lost) || lost < 1 || !isChainHash(resumeFrom)) return undefined
  return { lost, resumeFrom }
}

/** A set of the last `capacity` hashes added. */
class RecentHashes {
  private readonly order: string[] = []
  private readonly members = new Set<string>()
  private next = 0

  constructor(private readonly capacity: number) {}

  add(hash: string): void {
    if (this.order.length < this.capacity) {
      this.order.push(hash)
    } else {
      const evicted = this.order[this.next]
      if (evicted !== undefined) this.members.delete(evicted)
      this.order[this.next] = hash
      this.next = (this.next + 1) % this.capacity
    }
    this.members.add(hash)
  }

  has(hash: string): boolean {
    return this.members.has(hash)
  }
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
  if (record['chain'] !== undefined && typeof record['chain'] !== 'string') return undefined
  return isChainHash(record['prev']) && isChainHash(record['hash']) ? record : undefined
}

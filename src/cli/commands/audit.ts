import { access } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { verifyFile } from '../../audit/verify'
import { flag, str, type Parsed } from '../args'
import { CliError } from '../cli-error'
import { readSse } from '../sse-reader'
import type { GroupSpec, OptionSpec } from '../spec'
import { adminClient, type LeafSpec } from './context'

/** Filters shared by `audit query` and `audit tail` (DESIGN §3 `GET /v1/audit?since&until&type&instanceId&limit`). */
const FILTERS: readonly OptionSpec[] = [
  { flags: '--since <iso>', description: 'events from this time on (ISO 8601)' },
  { flags: '-t, --type <type>', description: 'an event type, or a prefix ending in * (connection.*)' },
  { flags: '-i, --instance <id>', description: 'events of this instance' },
  { flags: '-n, --limit <n>', description: 'at most this many events (default 100, at most 1000)' },
]
const COLUMNS = ['time', 'type', 'outcome', 'reason', 'instanceId', 'actor.id']

function filterQuery(parsed: Parsed): Record<string, string | undefined> {
  return { since: str(parsed, 'since'), type: str(parsed, 'type'), instanceId: str(parsed, 'instance'), limit: str(parsed, 'limit') }
}

/** `audit query [--since ISO] [--until ISO] [--type T|PREFIX*] [--instance ID] [--limit N]`: prints `{items}`, oldest first. */
const query: LeafSpec = {
  name: 'query',
  synopsis: '[--since ISO] [--until ISO] [--type T|PREFIX*] [--instance ID] [--limit N]',
  summary: 'recorded events, oldest first (at most 1000; default 100)',
  options: [...FILTERS, { flags: '--until <iso>', description: 'events before this time (ISO 8601)' }],
  async run(ctx, parsed) {
    const client = await adminClient(ctx)
    ctx.print(await client.json('GET', '/v1/audit', { query: { ...filterQuery(parsed), until: str(parsed, 'until') } }), { columns: COLUMNS })
    return 0
  },
}

/**
 * `audit tail [--since ISO] [--type T] [--instance ID] [--limit N] [--count N]`: follows
 * `/v1/audit/stream` and prints one JSON event per line (JSON lines, ready for `jq` or for
 * `audit verify --partial`) until Ctrl-C, or after `--count` events. `--since` first prints the
 * history from then (at most `--limit` events). A stream the server ends (gateway stopping, reader
 * too slow) exits 1 with a message, so a script notices.
 */
const tail: LeafSpec = {
  name: 'tail',
  synopsis: '[--since ISO] [--type T|PREFIX*] [--instance ID] [--limit N] [--count N]',
  summary: 'follow new events live, one JSON line each, until Ctrl-C',
  options: [...FILTERS, { flags: '--count <n>', description: 'stop after this many events' }],
  async run(ctx, parsed) {
    const countText = str(parsed, 'count')
    const count = countText === undefined ? undefined : Number(countText)
    if (count !== undefined && !(Number.isInteger(count) && count > 0)) throw new CliError('USAGE', '--count must be a positive integer')
    const client = await adminClient(ctx)
    const abort = new AbortController()
    const onInterrupt = (): void => abort.abort()
    process.once('SIGINT', onInterrupt)
    let printed = 0
    try {
      const body = await client.stream('/v1/audit/stream', { query: filterQuery(parsed), signal: abort.signal })
      for await (const message of readSse(body)) {
        ctx.io.stdout.write(`${message.data}\n`)
        printed++
        if (count !== undefined && printed >= count) {
          abort.abort()
          return 0
        }
      }
    } catch (err) {
      // Ctrl-C (or --count reached) aborts the fetch, which surfaces as an AbortError here.
      if (abort.signal.aborted) return 0
      throw err
    } finally {
      process.removeListener('SIGINT', onInterrupt)
    }
    if (abort.signal.aborted) return 0
    throw new CliError('ADMIN_UNREACHABLE', 'the admin API closed the audit stream')
  },
}

/**
 * `portcullis audit verify FILE [--partial]` (DESIGN §3 "`hash` … so a chain can be verified"):
 * checks a JSON-lines audit file offline, each chain on its own when events name their `chain`
 * (several gateway processes writing one stream). Prints `{ok: true, count, chains?}`, or
 * `{ok: false, line, problem, eventId?, chain?}` for the first broken link and exits 1.
 * `--partial` accepts chains that do not start at the genesis event (an excerpt, a rotated file, a
 * trimmed stream export).
 */
const verify: LeafSpec = {
  name: 'verify',
  synopsis: 'FILE [--partial]',
  summary: 'check the hash chains of a JSON-lines audit file (exit 1 when broken)',
  args: ['[file]'],
  options: [{ flags: '--partial', description: 'accept chains that do not start at their first event (an excerpt, a rotated file)' }],
  async run(ctx, parsed) {
    const [file] = parsed.positionals
    if (file === undefined) throw new CliError('USAGE', 'audit verify needs the audit FILE')
    const path = isAbsolute(file) ? file : join(ctx.io.cwd, file)
    try {
      await access(path)
    } catch (err) {
      throw new CliError('FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`)
    }
    const result = await verifyFile(path, flag(parsed, 'partial') ? { firstPrev: 'any' } : {})
    ctx.print(result)
    if (result.ok) return 0
    const what = [result.eventId === undefined ? '' : `event ${result.eventId}`, result.chain === undefined ? '' : `chain ${result.chain}`].filter((s) => s !== '').join(', ')
    ctx.io.stderr.write(`audit chain broken at line ${result.line}: ${result.problem}${what === '' ? '' : ` (${what})`}\n`)
    return 1
  },
}

export const auditGroup: GroupSpec = {
  name: 'audit',
  section: 'Audit',
  summary: 'the hash-chained audit log: query, follow live, verify a file',
  commands: [query, tail, verify],
}

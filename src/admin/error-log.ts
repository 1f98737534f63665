/**
 * Log fields for an error's causes. The logger's `err` serializer (observability/logger.ts) keeps
 * an error's own message and code by allow-list, which drops `cause`: a store failure then logs as
 * "could not write the store log" without the ENOSPC behind it, and an ioredis AggregateError
 * (one per address tried) has an empty message of its own. These fields carry each cause's message
 * and code, a few levels deep, as plain strings — never the error object itself, whose members
 * (a Redis URL, request options) may hold secrets.
 */
export interface CauseFields {
  message: string
  code?: string
}

const MAX_DEPTH = 3
const MAX_MESSAGE = 500

export function causeChain(err: unknown): CauseFields[] | undefined {
  const out: CauseFields[] = []
  let current = (err as { cause?: unknown } | null)?.cause
  while (current !== undefined && current !== null && out.length < MAX_DEPTH) {
    out.push(fieldsOf(current))
    current = (current as { cause?: unknown }).cause
  }
  return out.length > 0 ? out : undefined
}

function fieldsOf(err: unknown): CauseFields {
  if (!(err instanceof Error)) return { message: typeof err === 'string' ? err.slice(0, MAX_MESSAGE) : typeof err }
  // AggregateError (net connect to several addresses): its own message may be empty.
  const inner = err instanceof AggregateError ? err.errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ') : ''
  const message = [err.message, inner].filter((m) => m !== '').join(': ') || err.name
  const code = (err as { code?: unknown }).code
  return { message: message.slice(0, MAX_MESSAGE), ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}) }
}

/** `{ err, cause }` for `logger.error(…)`: the error by the logger's allow-list, its causes here. */
export function errorLogFields(err: unknown): { err: Error; cause?: CauseFields[] } {
  // The serializer stringifies anything but an Error, which is how "[object Object]" got logged.
  const asError = err instanceof Error ? err : new Error(`a non-Error value was thrown (${fieldsOf(err).message})`)
  const cause = causeChain(err)
  return cause === undefined ? { err: asError } : { err: asError, cause }
}

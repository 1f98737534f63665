import pino, { type Logger } from 'pino'

export type { Logger } from 'pino'

export interface LoggerOptions {
  level: string
  /**
   * Where logs go. Default 'stderr': the default audit sink writes JSON lines to stdout (DESIGN §3),
   * and keeping logs off stdout keeps that stream pure audit events that `audit verify` and log
   * shippers can parse line by line. Any other string is a file path (directories created).
   */
  destination?: 'stdout' | 'stderr' | string
  /** Write synchronously (default true: a crash still leaves its last lines; logs are not per byte). */
  sync?: boolean
}

/** Keys whose values are secrets (DESIGN §1: secrets never returned, STYLE §11: never logged). */
const SECRET_KEYS = [
  'password', 'passwd', 'secret', 'accessKeySecret', 'secretSign', 'privateKey', 'token',
  'securityToken', 'masterKey', 'authorization', 'Authorization',
]

/**
 * pino's redact paths have no recursive wildcard, so each secret key is listed at depth 0 to 4;
 * deeper secrets are out of reach here, which is why the serializers below are allow-lists and
 * call sites log chosen fields, never whole objects.
 */
export const REDACT_PATHS: string[] = [
  ...SECRET_KEYS.flatMap((key) => [0, 1, 2, 3, 4].map((depth) => [...Array<string>(depth).fill('*'), key].join('.'))),
  'req.headers.authorization',
  'headers.authorization',
  'headers["x-portcullis-signature"]',
]

/** Errors by allow-list: stable code and message; the stack only when debugging. */
function serializeError(debug: boolean) {
  return (err: unknown): Record<string, unknown> => {
    if (!(err instanceof Error)) {
      // A plain object (an ioredis reply, a rejection with a non-Error) would print "[object Object]".
      // Allow-list still: its message and code only, never its other fields (they may hold secrets).
      if (typeof err !== 'object' || err === null) return { message: String(err) }
      const { message, code } = err as { message?: unknown; code?: unknown }
      return {
        message: typeof message === 'string' ? message : `a ${err.constructor?.name ?? 'plain'} object without a message`,
        ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
      }
    }
    const out: Record<string, unknown> = { message: err.message }
    const code = (err as { code?: unknown }).code
    if (typeof code === 'string' || typeof code === 'number') out['code'] = code
    // The cause is often what says why (a PortcullisError wrapping an ioredis or fs error).
    const cause = (err as { cause?: unknown }).cause
    if (cause instanceof Error) {
      out['cause'] = cause.message
      const causeCode = (cause as { code?: unknown }).code
      if (typeof causeCode === 'string' || typeof causeCode === 'number') out['causeCode'] = causeCode
    }
    if (debug && err.stack !== undefined) out['stack'] = err.stack
    return out
  }
}

/** Admin requests: method and path only; the query and headers (signature, date, nonce) stay out. */
function serializeRequest(req: { method?: string; url?: string; id?: unknown }): Record<string, unknown> {
  return { method: req.method, path: req.url?.split('?')[0], requestId: req.id }
}

function serializeResponse(res: { statusCode?: number }): Record<string, unknown> {
  return { statusCode: res.statusCode }
}

export function createLogger(opts: LoggerOptions): Logger {
  const destination = opts.destination ?? 'stderr'
  const sync = opts.sync ?? true
  const stream =
    destination === 'stdout' ? pino.destination({ dest: 1, sync })
    : destination === 'stderr' ? pino.destination({ dest: 2, sync })
    : pino.destination({ dest: destination, sync, mkdir: true })
  const debug = opts.level === 'debug' || opts.level === 'trace'
  return pino(
    {
      level: opts.level,
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      serializers: { err: serializeError(debug), req: serializeRequest, res: serializeResponse },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  )
}

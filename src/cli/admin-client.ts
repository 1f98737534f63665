import { ERROR_CODES, PortcullisError, type ErrorCode } from '../errors'
import { signRequest } from '../admin/signing'
import { CliError } from './cli-error'

export interface AdminTarget {
  /** Base URL, e.g. http://127.0.0.1:9080 (no trailing slash). */
  url: string
  accessKeyId: string
  accessKeySecret: string
  /** Where the URL came from (`PORTCULLIS_ADMIN_URL`, the config file…), named in auth errors. */
  urlSource?: string
  /** Where the key came from (the env variables or the root key file), named in auth errors. */
  keySource?: string
}

/**
 * Answers that mean "this endpoint did not accept this key": the usual cause is a key from another
 * gateway or data directory, or a URL that reaches another gateway, so the error says which
 * endpoint and which key were used (never the secret).
 */
const AUTH_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'SIGNATURE_EXPIRED', 'NONCE_REUSED',
  'ACCESS_KEY_UNKNOWN', 'ACCESS_KEY_INACTIVE', 'ACCESS_DENIED',
])

export type Query = Record<string, string | undefined>

export interface AdminResponse {
  status: number
  contentType: string
  /** Parsed JSON when the answer is JSON, else the text; undefined for 204. */
  body: unknown
}

/**
 * Signed calls to the admin API (DESIGN §3 request signing). The body is serialised once and the
 * same bytes are hashed and sent. An error answer `{code, message}` becomes a PortcullisError with
 * that code, so the CLI prints `code: message`.
 */
export class AdminClient {
  constructor(private readonly target: AdminTarget) {}

  async request(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<AdminResponse> {
    const res = await this.send(method, path, opts)
    const contentType = res.headers.get('content-type') ?? ''
    const text = await res.text()
    const parsed = parseBody(contentType, text)
    if (res.status >= 400) throw this.explain(toError(res.status, parsed))
    return { status: res.status, contentType, body: parsed }
  }

  /**
   * A signed GET whose answer is a stream (`/v1/audit/stream`, server-sent events): the body's
   * chunks as they arrive, until the server ends it or `signal` aborts. An error answer throws as
   * in `request`.
   */
  async stream(path: string, opts: { query?: Query; signal?: AbortSignal } = {}): Promise<AsyncIterable<Uint8Array>> {
    const res = await this.send('GET', path, opts)
    if (res.status >= 400) {
      const text = await res.text()
      throw this.explain(toError(res.status, parseBody(res.headers.get('content-type') ?? '', text)))
    }
    if (res.body === null) throw new CliError('BAD_RESPONSE', 'the admin API answered no stream')
    return res.body
  }

  /** An auth error names the endpoint and the key used, and where each came from. */
  private explain(err: PortcullisError | CliError): PortcullisError | CliError {
    if (!(err instanceof PortcullisError) || !AUTH_ERRORS.has(err.code)) return err
    const t = this.target
    const url = t.urlSource !== undefined ? `${t.url} (from ${t.urlSource})` : t.url
    const key = t.keySource !== undefined ? `AccessKey ${t.accessKeyId} (from ${t.keySource})` : `AccessKey ${t.accessKeyId}`
    return new PortcullisError(err.code, `${err.message}; endpoint ${url}, ${key}`)
  }

  private async send(method: string, path: string, opts: { query?: Query; body?: unknown; signal?: AbortSignal }): Promise<Response> {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(opts.query ?? {})) if (value !== undefined) search.append(name, value)
    const qs = search.toString()
    const url = qs === '' ? path : `${path}?${qs}`
    const body = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body), 'utf8')
    const headers: Record<string, string> = signRequest({
      method, url, body: body ?? '', accessKeyId: this.target.accessKeyId, accessKeySecret: this.target.accessKeySecret,
    })
    if (body !== undefined) headers['content-type'] = 'application/json'
    try {
      return await fetch(`${this.target.url}${url}`, {
        method, headers, ...(body !== undefined ? { body } : {}), ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
      })
    } catch (err) {
      if (opts.signal?.aborted === true) throw err
      throw unreachable(this.target, err)
    }
  }

  async json(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<unknown> {
    return (await this.request(method, path, opts)).body
  }

  /** Follows nextToken until the list is complete. */
  async listAll(path: string, query: Query = {}): Promise<{ items: unknown[] }> {
    const items: unknown[] = []
    let nextToken: string | undefined
    do {
      const page = (await this.json('GET', path, { query: { ...query, nextToken } })) as { items?: unknown[]; nextToken?: string }
      items.push(...(page.items ?? []))
      nextToken = page.nextToken
    } while (nextToken !== undefined)
    return { items }
  }
}

/**
 * fetch failed before any answer: name the URL, the system error (ECONNREFUSED, ENOTFOUND…) and
 * where the URL came from, and say how to point the CLI elsewhere.
 */
function unreachable(target: AdminTarget, err: unknown): CliError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : (err as Error).message
  const from = target.urlSource === undefined ? '' : ` (the URL is from ${target.urlSource})`
  return new CliError('ADMIN_UNREACHABLE', `cannot reach the admin API at ${target.url} (${why}): is the gateway running? set --admin-url or PORTCULLIS_ADMIN_URL${from}`)
}

function toError(status: number, body: unknown): PortcullisError | CliError {
  const b = body as { code?: unknown; message?: unknown } | undefined
  if (typeof b?.code === 'string' && b.code in ERROR_CODES) {
    return new PortcullisError(b.code as ErrorCode, typeof b.message === 'string' ? b.message : undefined)
  }
  return new CliError('BAD_RESPONSE', `the admin API answered HTTP ${status} without an error code`)
}

function parseBody(contentType: string, text: string): unknown {
  if (text === '') return undefined
  if (!contentType.includes('application/json')) return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new CliError('BAD_RESPONSE', 'the admin API answered malformed JSON')
  }
}

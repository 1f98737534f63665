import { signRequest, type SigningKey } from './signing'

/**
 * The admin API as the page calls it: every `/v1` request signed with the key held in memory
 * (signing.ts), errors turned into ApiError with the API's own `{code, message, requestId}`
 * (DESIGN §3). Uses only `fetch` and `URL`, so it runs in Node 20 as in the browser.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

export interface ListPage<T> {
  items: T[]
  nextToken?: string
}

/** Query parameters; undefined and '' members are left out. */
export type Query = Record<string, string | number | boolean | undefined>

export function withQuery(path: string, query: Query = {}): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(name, String(value))
  const text = params.toString()
  return text === '' ? path : `${path}?${text}`
}

/** One path segment, percent-encoded (a principal `ca:plant/abc` → `ca%3Aplant%2Fabc`). */
export const seg = (value: string): string => encodeURIComponent(value)

export interface AdminClientOptions {
  /** The admin API's origin, e.g. `http://127.0.0.1:9080`; the page's own in the console. */
  baseUrl: string
  key: SigningKey
  /** Server time minus local time (ms), measured at sign-in, so a skewed clock still signs in the window. */
  clockOffsetMs?: number
}

export class AdminClient {
  readonly accessKeyId: string
  private readonly key: SigningKey
  private readonly baseUrl: string
  private readonly clockOffsetMs: number

  constructor(opts: AdminClientOptions) {
    this.key = opts.key
    this.accessKeyId = opts.key.accessKeyId
    this.baseUrl = opts.baseUrl
    this.clockOffsetMs = opts.clockOffsetMs ?? 0
  }

  /** A signed request; answers the raw Response (streams, PEM downloads). Throws ApiError on a non-2xx. */
  async send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    const url = new URL(path, this.baseUrl)
    // The target is signed as the URL parser normalised it, which is what fetch puts on the wire.
    const target = url.pathname + url.search
    const payload = body === undefined ? '' : JSON.stringify(body)
    const headers = await signRequest({ method, target, body: payload, key: this.key, now: new Date(Date.now() + this.clockOffsetMs) })
    if (body !== undefined) headers['content-type'] = 'application/json'
    const init: RequestInit = { method, headers, credentials: 'omit' }
    if (body !== undefined) init.body = payload
    if (signal !== undefined) init.signal = signal
    const res = await fetch(url, init)
    if (!res.ok) throw await errorOf(res)
    return res
  }

  /** A signed JSON call; `undefined` for 204. */
  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body)
    if (res.status === 204) return undefined as T
    const text = await res.text()
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  get<T = unknown>(path: string, query?: Query): Promise<T> {
    return this.call<T>('GET', withQuery(path, query))
  }

  /** Every page of a list call (`nextToken`), up to `max` items. */
  async list<T>(path: string, query: Query = {}, max = 5000): Promise<T[]> {
    const all: T[] = []
    let nextToken: string | undefined
    do {
      const page: ListPage<T> = await this.get<ListPage<T>>(path, { ...query, limit: 1000, nextToken })
      all.push(...page.items)
      nextToken = page.nextToken
    } while (nextToken !== undefined && all.length < max)
    return all
  }
}

/** The API's error body, or what can be said without one (a proxy's HTML page, a dropped body). */
export async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '')
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown; requestId?: unknown }
    if (typeof body.code === 'string') {
      return new ApiError(res.status, body.code, typeof body.message === 'string' ? body.message : '', typeof body.requestId === 'string' ? body.requestId : undefined)
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, `HTTP_${res.status}`, text.slice(0, 200) || res.statusText, res.headers.get('x-request-id') ?? undefined)
}

/**
 * Server time minus local time, from the `Date` header of an unsigned call (one-second
 * resolution; only an offset beyond a few seconds is worth correcting).
 */
export async function measureClockOffset(baseUrl: string): Promise<number> {
  const before = Date.now()
  const res = await fetch(new URL('/healthz', baseUrl), { credentials: 'omit' })
  const after = Date.now()
  const header = res.headers.get('date')
  const server = header === null ? NaN : Date.parse(header)
  if (Number.isNaN(server)) return 0
  const offset = server + 500 - (before + after) / 2
  return Math.abs(offset) < 5_000 ? 0 : Math.round(offset)
}

import { z } from 'zod'
import { PortcullisError } from '../errors'

/**
 * List pagination (DESIGN §3: list calls answer `{items, nextToken?}`). Keyset, not offset: items
 * are sorted by id and `nextToken` is the opaque (base64url) last id of the page, so a record
 * created or deleted between two pages neither repeats nor hides another one.
 */
export const DEFAULT_PAGE_SIZE = 100
export const MAX_PAGE_SIZE = 1000

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional(),
  nextToken: z.string().max(400).optional(),
}

export interface Page<T> {
  items: T[]
  nextToken?: string
}

/** The schema of a page of `item` (what /openapi.json says a list call answers). */
export function pageSchema<T extends z.ZodType>(item: T, title: string): z.ZodObject<{ items: z.ZodArray<T>; nextToken: z.ZodOptional<z.ZodString> }> {
  return z.object({
    items: z.array(item),
    nextToken: z.string().optional().describe('present when more items follow: pass it back as `nextToken` for the next page'),
  }).meta({ title })
}

export function paginate<T>(
  all: readonly T[],
  query: { limit?: number | undefined; nextToken?: string | undefined },
  keyOf: (item: T) => string,
): Page<T> {
  const limit = query.limit ?? DEFAULT_PAGE_SIZE
  const after = query.nextToken === undefined ? undefined : decodeToken(query.nextToken)
  const sorted = [...all].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0))
  const rest = after === undefined ? sorted : sorted.filter((item) => keyOf(item) > after)
  const items = rest.slice(0, limit)
  const last = items[items.length - 1]
  return rest.length > limit && last !== undefined ? { items, nextToken: Buffer.from(keyOf(last), 'utf8').toString('base64url') } : { items }
}

function decodeToken(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new PortcullisError('VALIDATION_FAILED', 'nextToken is not a token this API issued')
  return Buffer.from(token, 'base64url').toString('utf8')
}

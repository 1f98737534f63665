import { isPortcullisError, type ErrorCode } from '../../src/errors'
// tap declares its Test type in a global `tap` namespace; this import loads it.
import type {} from 'tap'

/**
 * Asserts that `promise` rejects with a PortcullisError of `code` (one assertion), and, when
 * `mentions` is given, that its message matches it (a second one).
 */
export async function rejectsWith(t: tap.Test, promise: Promise<unknown>, code: ErrorCode, mentions?: RegExp | string): Promise<void> {
  try {
    await promise
    t.fail(`expected ${code}`)
  } catch (err) {
    t.ok(isPortcullisError(err, code), `refused with ${code} (got ${(err as Error).message})`)
    if (mentions !== undefined) t.match((err as Error).message, mentions)
  }
}

/**
 * Polling for integration tests, where what is awaited (a kick, a failover, a delivery) has no
 * event of its own the test can listen to. A condition that throws counts as not met yet.
 */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!(await Promise.resolve().then(condition).catch(() => false))) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return true
}

/** `until`, failing with `what` when the condition is not met in time. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  if (!(await until(condition, timeoutMs))) throw new Error(`${what} not met within ${timeoutMs} ms`)
}

/** Polls `read` until it answers something other than undefined (or false/null); fails with `what` after timeoutMs. */
export async function valueWithin<T>(read: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs: number, what = 'value', everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await Promise.resolve().then(read).catch(() => undefined)
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() >= deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

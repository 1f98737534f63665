/**
 * Child processes as a container runtime would start them, for the image and chart tests.
 */
/**
 * `program args…` with exactly `env`: through env(1), because the test runner's child_process hook
 * adds its own NODE_OPTIONS (a loader that writes to .tap/) to everything the test spawns.
 */
export function pristine(program: string, args: readonly string[]): [string, string[]] {
  return ['/usr/bin/env', ['-u', 'NODE_OPTIONS', program === 'node' ? process.execPath : program, ...args]]
}

/** A timer that does not keep the test process alive. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

/** Resolves true once `read()` matches, false when the process exits first or `ms` pass. */
export async function untilOutput(read: () => string, pattern: RegExp, exited: Promise<unknown>, ms: number): Promise<boolean> {
  let over = false
  void exited.then(() => { over = true })
  const deadline = Date.now() + ms
  while (!pattern.test(read())) {
    if (over || Date.now() > deadline) return false
    await sleep(50)
  }
  return true
}


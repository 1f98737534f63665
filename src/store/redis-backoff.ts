/**
 * The one reconnect pace of the Redis store's connections (and of its retries that wait for a
 * connection): doubling from 100 ms, at most 1 s apart. The replica stays stale until both
 * connections are back, so a healed partition or a finished failover should be noticed within
 * about a second; an attempt against a refused port costs next to nothing.
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 5), 1_000)
}

/**
 * Real local services for integration tests (Redis 6379, Mosquitto 1883, RabbitMQ 5672). No mocks:
 * a test that needs a service calls serviceAvailable() first and returns when it answers false.
 *
 * Absent service: the test is skipped with a loud message, unless PORTCULLIS_REQUIRE_SERVICES=1
 * (CI), where it fails instead — so a CI run without its services cannot pass by skipping.
 */
import { connect } from 'node:net'
// tap declares its Test type in a global `tap` namespace; this import loads it.
import type {} from 'tap'

export type Test = tap.Test
export type ServiceName = 'redis' | 'mosquitto' | 'rabbitmq'

export const DEFAULT_PORTS: Readonly<Record<ServiceName, number>> = { redis: 6379, mosquitto: 1883, rabbitmq: 5672 }

const PROBE_TIMEOUT_MS = 1_000

/** True when something accepts TCP connections on host:port within a second. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host })
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * Checks that `name` answers on host:port. When it does not, marks `t` skipped (loudly) or failed
 * (PORTCULLIS_REQUIRE_SERVICES=1) and answers false; the caller then returns without testing.
 */
export async function serviceAvailable(t: Test, name: ServiceName, port: number, host = '127.0.0.1'): Promise<boolean> {
  if (await portOpen(port, host)) return true
  const where = `${name} at ${host}:${port}`
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') {
    t.fail(`${where} is not reachable and PORTCULLIS_REQUIRE_SERVICES=1 requires it`)
  } else {
    const message = `SKIPPED: ${where} is not reachable; start it to run this test (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure)`
    process.stderr.write(`\n*** ${message} ***\n`)
    t.pass(`needs ${name}`, { skip: message })
  }
  return false
}

/**
 * A loopback port that nothing listens on (bound once, then released): a dead broker, a dead
 * Redis, or a port for a server the test starts itself.
 */
export async function unusedPort(): Promise<number> {
  const { createServer } = await import('node:net')
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Deletes every Redis key under `prefix` (and the `extra` keys): a test's own keys, after it. */
export async function deleteRedisKeys(prefix: string, extra: readonly string[] = []): Promise<void> {
  const { default: Redis } = await import('ioredis')
  const redis = new Redis('redis://127.0.0.1:6379')
  try {
    const keys = [...extra, ...(await redis.keys(`${prefix}*`))]
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

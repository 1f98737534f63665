import { ENDPOINT_IDS, type EndpointId } from './endpoints'
import { DEFAULT_BACKOFF, type Backoff } from './load/backoff'

/**
 * Bench modes (issue 5): `--quick` finishes in under two minutes on a 2-core machine; the full
 * mode runs longer windows and 10,000 idle connections. Every window and count lives here so the
 * docs can quote one place.
 */
export interface BenchOptions {
  mode: 'quick' | 'full'
  /** Publish window of one throughput measurement. */
  throughputMs: number
  /** Longest wait for the subscriber to stop receiving after the publishers stop. */
  drainMaxMs: number
  /**
   * An unmeasured 64 B throughput run per endpoint and protocol before the measured ones, so that
   * every endpoint is measured in its steady state rather than while V8 optimises its
   * per-message code (as `connectWarmupMs` does for the connection rows); 0 = none.
   */
  throughputWarmupMs: number
  /** Publisher connections of the throughput runs (the issue: "several"; the goal: four). */
  publishers: number
  mqttPayloads: readonly number[]
  amqpPayloads: readonly number[]
  /** Window of one connection-rate measurement. */
  connectMs: number
  /**
   * Connections opened, unmeasured, before each connection-rate window: every endpoint is measured
   * in its steady state, not while a JIT compiles its per-connection code (Node) or caches fill.
   */
  connectWarmupMs: number
  /** Connections in flight at once during a connection-rate run. */
  connectConcurrency: number
  /** Round-trip latency: messages per second and window. */
  latencyRate: number
  latencyMs: number
  latencyPayload: number
  /** Idle TLS connections held open for the memory measurement. */
  idleConnections: number
  /** Print the progress of each step on stderr. */
  verbose: boolean
  /** Measurements to run (default all): idle, throughput, connect, latency. */
  only: readonly Measurement[]
  /** Connection-rate cases to run, in this order of CONNECT_CASES (default all; `--cases`). */
  connectCases: readonly ConnectCaseId[]
  /** Portcullis worker processes (1: one process, embedded store; more: cluster on Redis). */
  workers: number
  /**
   * Endpoints (columns) to measure (default all), in the order they are measured within each
   * measurement; the servers of the others are not started.
   */
  endpoints: readonly EndpointId[]
  /**
   * Whether --endpoints named them. By default `portcullisWorkers` (the gateway with `workers: 2`)
   * takes part in the storm only and `portcullisEnforce` in everything but the storm; named, they
   * take part in every measurement asked for.
   */
  endpointsNamed: boolean
  /** Reconnect storm (issue 15): devices that connect at once (`--storm N`). */
  stormDevices: number
  /** Distinct client certificates, reused round-robin; undefined = one per device (`--storm-certs K`). */
  stormCerts: number | undefined
  /** Generator processes the devices are dealt to (all on the generator core). */
  stormProcesses: number
  /** The storm gives up on devices not connected by then, ms after its start. */
  stormDeadlineMs: number
  /** A device's limit for one attempt, TCP connect → CONNACK (mqtt.js `connectTimeout`: 30 s). */
  stormAttemptTimeoutMs: number
  stormBackoff: Backoff
  /**
   * Connect every device once before the storm (unmeasured) so that the endpoint knows the fleet,
   * as before an outage; `--storm-cold` storms a fleet the endpoint has never seen.
   */
  stormPrime: boolean
  /** Priming connections in flight per generator process. */
  stormPrimeConcurrency: number
}

export const MEASUREMENTS = ['idle', 'throughput', 'connect', 'latency', 'storm'] as const
export type Measurement = (typeof MEASUREMENTS)[number]

/** The connection-rate cases (scenarios/connect.ts), by id. */
export const CONNECT_CASE_IDS = ['mqtt-full', 'mqtt-resumed', 'tls-only', 'amqp'] as const
export type ConnectCaseId = (typeof CONNECT_CASE_IDS)[number]

type Choices = 'verbose' | 'only' | 'connectCases' | 'workers' | 'endpoints' | 'endpointsNamed' | 'stormCerts' | 'stormPrime'

const QUICK: Omit<BenchOptions, Choices> = {
  mode: 'quick',
  throughputMs: 1200,
  drainMaxMs: 2000,
  throughputWarmupMs: 600,
  publishers: 4,
  mqttPayloads: [64, 1024, 16 * 1024],
  amqpPayloads: [64, 16 * 1024],
  connectMs: 1200,
  connectWarmupMs: 300,
  connectConcurrency: 8,
  latencyRate: 200,
  latencyMs: 1500,
  latencyPayload: 64,
  idleConnections: 1000,
  stormDevices: 500,
  stormProcesses: 2,
  stormDeadlineMs: 60_000,
  stormAttemptTimeoutMs: 30_000,
  stormBackoff: DEFAULT_BACKOFF,
  stormPrimeConcurrency: 16,
}

const FULL: Omit<BenchOptions, Choices> = {
  ...QUICK,
  mode: 'full',
  throughputMs: 8000,
  drainMaxMs: 5000,
  throughputWarmupMs: 2000,
  amqpPayloads: [64, 1024, 16 * 1024],
  connectMs: 6000,
  connectWarmupMs: 2000,
  latencyMs: 8000,
  idleConnections: 10_000,
  stormDevices: 5000,
  stormDeadlineMs: 180_000,
}

export const USAGE = `usage: npm run bench [-- --quick] [-- --idle N] [-- --verbose]
  --quick     short windows and 1,000 idle connections (under two minutes)
  --idle N    idle TLS connections for the memory measurement (full default 10,000)
  --only LIST some of idle,throughput,connect,latency (default all)
  --cases LIST     connection-rate cases, some of ${CONNECT_CASE_IDS.join(',')} (default all)
  --workers N Portcullis with N worker processes sharing a Redis store (default 1)
  --endpoints LIST some of ${ENDPOINT_IDS.join(',')} (default all), measured in that order
  --storm [N] the reconnect storm only (with --only: as well), N devices (default 5,000; quick 500)
  --storm-certs K  K distinct client certificates reused round-robin (default one per device)
  --storm-cold     no priming: the storm's devices are new to the endpoint
  --verbose   progress on stderr`

export function parseOptions(argv: readonly string[]): BenchOptions | { error: string } {
  let base = FULL
  let idle: number | undefined
  let verbose = false
  let only: Measurement[] = [...MEASUREMENTS]
  let connectCases: ConnectCaseId[] = [...CONNECT_CASE_IDS]
  let workers = 1
  let endpoints: EndpointId[] = [...ENDPOINT_IDS]
  let endpointsNamed = false
  let onlyNamed = false
  let storm: number | 'default' | undefined
  let stormCerts: number | undefined
  let stormPrime = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--quick') base = QUICK
    else if (arg === '--full') base = FULL
    else if (arg === '--verbose' || arg === '-v') verbose = true
    else if (arg === '--only') {
      const names = (argv[++i] ?? '').split(',')
      const unknown = names.filter((n) => !(MEASUREMENTS as readonly string[]).includes(n))
      if (unknown.length > 0 || names.length === 0) return { error: `--only takes ${MEASUREMENTS.join(',')}` }
      only = names as Measurement[]
      onlyNamed = true
    } else if (arg === '--cases') {
      const names = (argv[++i] ?? '').split(',')
      if (names.some((n) => !(CONNECT_CASE_IDS as readonly string[]).includes(n))) return { error: `--cases takes ${CONNECT_CASE_IDS.join(',')}` }
      connectCases = names as ConnectCaseId[]
    } else if (arg === '--endpoints') {
      const names = (argv[++i] ?? '').split(',')
      if (names.some((n) => !(ENDPOINT_IDS as readonly string[]).includes(n))) return { error: `--endpoints takes ${ENDPOINT_IDS.join(',')}` }
      endpoints = names as EndpointId[]
      endpointsNamed = true
    } else if (arg === '--storm') {
      // The count is optional: `--storm --quick` is the quick storm's default.
      const n = argv[i + 1]
      if (n !== undefined && /^\d+$/.test(n)) {
        storm = Number(n)
        i++
        if (storm < 1) return { error: '--storm needs a positive integer' }
      } else storm = 'default'
    } else if (arg === '--storm-certs') {
      stormCerts = Number(argv[++i])
      if (!Number.isInteger(stormCerts) || stormCerts < 1) return { error: '--storm-certs needs a positive integer' }
    } else if (arg === '--storm-cold') {
      stormPrime = false
    } else if (arg === '--workers') {
      workers = Number(argv[++i])
      if (!Number.isInteger(workers) || workers < 1) return { error: '--workers needs a positive integer' }
    } else if (arg === '--idle') {
      idle = Number(argv[++i])
      if (!Number.isInteger(idle) || idle < 1) return { error: '--idle needs a positive integer' }
    } else return { error: `unknown argument ${arg ?? ''}` }
  }
  if (storm !== undefined && !onlyNamed) only = ['storm']
  else if (storm !== undefined && !only.includes('storm')) only = [...only, 'storm']
  return {
    ...base,
    ...(idle !== undefined ? { idleConnections: idle } : {}),
    ...(typeof storm === 'number' ? { stormDevices: storm } : {}),
    verbose, only, connectCases, workers, endpoints, endpointsNamed, stormCerts, stormPrime,
  }
}

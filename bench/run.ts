/**
 * `npm run bench [-- --quick]` (issue 5): the same load, in one run, against the broker directly,
 * HAProxy terminating the same TLS (with and without client certificates) and Portcullis, with
 * the same certificates, brokers and client. Prints a Markdown table with ratios and writes the
 * JSON to bench/results/<timestamp>.json. Installs nothing: where HAProxy is missing it says how
 * to install it and measures the other endpoints.
 *
 * Placement (issue 5 §3): the servers (the bench's Mosquitto, HAProxy with one thread, Portcullis
 * with one process) on core 0, the bench and its load-generator processes on core 1. RabbitMQ is
 * the system service and is not moved.
 *
 * Authorization (issue 11): a second Portcullis, `portcullisEnforce`, configured as the first but
 * enforcing 50-statement policies; its figures over the first's are the cost of enforcement
 * (authorization.ts), with the decision's own cost measured alone (policy-decision.ts).
 *
 * Reconnect storm (issue 15): N devices with client certificates of their own connect at once and
 * retry with backoff (scenarios/storm.ts), against HAProxy, the pipe, Portcullis and a third
 * gateway with `workers: 2` (`portcullisWorkers`), each after the other measurements.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { auditCounts, authorizationMarkdown, summarizeAuthorization, type AuditCounts, type AuthorizationSummary } from './authorization'
import { ENDPOINT_LABELS, PORTCULLIS_WORKERS, type Endpoint, type EndpointId } from './endpoints'
import type { AmqpAuth, Target } from './load/target'
import { LoadWorker } from './load/worker-client'
import { describeMachine, hasCommand, openFileLimit, pinSelf, reachable } from './machine'
import { parseOptions, USAGE, type BenchOptions } from './options'
import { createBenchPki, createDeviceCertificates } from './pki'
import { measurePolicyDecision, type PolicyDecisionFigures } from './policy-decision'
import { affinityOf } from './proc-stats'
import { Results, type RowSpec } from './results'
import { CONNECT_CASES, connectRate } from './scenarios/connect'
import type { Measurement } from './options'
import type { BenchContext } from './scenarios/context'
import { idleMemory } from './scenarios/idle'
import { latency } from './scenarios/latency'
import { reconnectStorm, type StormEndpointResult } from './scenarios/storm'
import { stormMarkdown, type StormReport } from './storm-report'
import { throughput } from './scenarios/throughput'
import type { ServerProcess } from './servers/child'
import { HAPROXY_INSTALL, haproxyVersion, startHaproxy } from './servers/haproxy'
import { startMosquitto } from './servers/mosquitto'
import { startNodePipe } from './servers/node-pipe'
import { AMQP_HOSTNAME, AMQP_INSTANCE, configurePortcullis, MQTT_HOSTNAME, MQTT_INSTANCE, startPortcullis } from './servers/portcullis'

const ROOT = join(__dirname, '../..')
const RABBITMQ = { host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' }
const REDIS = { host: '127.0.0.1', port: 6379 }
const SERVER_CORE = 0
/** Descriptors a proxy keeps besides its connections (listeners, files, the admin API…). */
const FD_MARGIN = 256

const out = (text: string): void => void process.stdout.write(text + '\n')
const err = (text: string): void => void process.stderr.write(text + '\n')

async function main(): Promise<number> {
  const parsed = parseOptions(process.argv.slice(2))
  if ('error' in parsed) {
    err(`bench: ${parsed.error}\n${USAGE}`)
    return 2
  }
  const options: BenchOptions = parsed
  const started = Date.now()
  const results = new Results()
  const servers: ServerProcess[] = []
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'))
  let receiver: LoadWorker | undefined
  let sender: LoadWorker | undefined
  let stormPool: LoadWorker[] = []
  // Ctrl-C must not leave a pinned HAProxy, Mosquitto or gateway behind.
  const interrupt = (signal: NodeJS.Signals): void => {
    err(`bench: ${signal}, stopping the servers`)
    receiver?.stop()
    sender?.stop()
    for (const w of stormPool) w.stop()
    void Promise.all(servers.map((s) => s.stop())).finally(() => {
      rmSync(dir, { recursive: true, force: true })
      process.exit(130)
    })
  }
  process.once('SIGINT', interrupt)
  process.once('SIGTERM', interrupt)
  try {
    // ── preflight: say what is missing, never install it ───────────────────────────────────
    const haproxy = haproxyVersion()
    if (haproxy === undefined) {
      err(`bench: HAProxy is not installed; its columns stay empty. Install it with:\n  ${HAPROXY_INSTALL}`)
      results.note(`HAProxy not installed (\`${HAPROXY_INSTALL}\`): no HAProxy columns.`)
    }
    if (!hasCommand('mosquitto')) {
      err('bench: Mosquitto is not installed (apt-get install -y mosquitto); the MQTT measurements need it.')
      return 1
    }
    const pinning = hasCommand('taskset')
    const machine = describeMachine(haproxy)
    const generatorCore = machine.cpus >= 2 ? 1 : 0
    if (!pinning) results.note('taskset (util-linux) is missing: nothing is pinned.')
    else if (generatorCore === SERVER_CORE) results.note('one CPU only: the generator and the servers share it.')
    if (pinning) pinSelf(generatorCore)
    const amqpUp = await reachable(RABBITMQ.host, RABBITMQ.port)
    if (!amqpUp) {
      err(`bench: RabbitMQ is not reachable on ${RABBITMQ.host}:${RABBITMQ.port}; the AMQP measurements are skipped.`)
      results.note(`RabbitMQ not reachable on ${RABBITMQ.host}:${RABBITMQ.port}: no AMQP rows.`)
    }
    const fd = openFileLimit()
    const maxIdle = Math.floor((fd.soft - FD_MARGIN) / 2)
    let idle = options.idleConnections
    if (idle > maxIdle) {
      results.note(`idle connections lowered from ${idle} to ${maxIdle}: the open-file limit is ${fd.soft} (hard ${fd.hard}) and a proxy holds two descriptors per connection; raise it first (\`ulimit -n ${2 * idle + FD_MARGIN}\`, which needs a hard limit at least that high).`)
      idle = maxIdle
    }
    const want = (m: Measurement): boolean => options.only.includes(m)
    // Each storm device is two descriptors in the proxy too; the soft limit is the hard one here.
    let stormDevices = options.stormDevices
    if (want('storm') && stormDevices > maxIdle) {
      results.note(`storm devices lowered from ${stormDevices} to ${maxIdle}: the open-file limit is ${fd.soft} (hard ${fd.hard}) and a proxy holds two descriptors per device; raise it first (\`ulimit -n ${2 * stormDevices + FD_MARGIN}\`).`)
      stormDevices = maxIdle
    }

    // ── servers ─────────────────────────────────────────────────────────────────────────────
    const core = pinning ? SERVER_CORE : -1
    const pinnedCore = core < 0 ? 0 : core
    const pki = await createBenchPki(dir)
    const mosquitto = await startMosquitto(dir, pinnedCore)
    servers.push(mosquitto)
    const rabbitmqAuth: AmqpAuth = { kind: 'plain', username: RABBITMQ.username, password: RABBITMQ.password }
    const wanted = (id: EndpointId): boolean => options.endpoints.includes(id)
      // The 2-worker gateway is for the storm unless named; named or not, it needs Redis.
      && (id !== 'portcullisWorkers' || options.endpointsNamed || want('storm'))
    const endpoints: Endpoint[] = []
    if (wanted('direct')) endpoints.push({
      id: 'direct', pids: [],
      mqtt: { host: '127.0.0.1', port: mosquitto.port },
      ...(amqpUp ? { amqp: { target: { host: RABBITMQ.host, port: RABBITMQ.port }, auth: rabbitmqAuth } } : {}),
    })
    const mtls = { servername: MQTT_HOSTNAME, ca: pki.serverCa.cert, cert: pki.client.cert, key: pki.client.key }
    // Targets of the endpoints that terminate TLS in front of the same brokers.
    const mqttAt = (port: number): Target => ({ host: '127.0.0.1', port, tls: mtls })
    const tlsOnlyAt = (port: number): Target => ({ host: '127.0.0.1', port, tls: { servername: MQTT_HOSTNAME, ca: pki.serverCa.cert } })
    const amqpAt = (port: number, auth: AmqpAuth): Pick<Endpoint, 'amqp'> =>
      amqpUp ? { amqp: { target: { host: '127.0.0.1', port, tls: { servername: AMQP_HOSTNAME, ca: pki.serverCa.cert } }, auth } } : {}
    if (haproxy !== undefined && (wanted('haproxyMtls') || wanted('haproxyTls'))) {
      const h = await startHaproxy({
        dir, core: pinnedCore, files: { serverPem: pki.files.serverPem, clientCaPem: pki.files.clientCaPem },
        mqttBackendPort: mosquitto.port, amqpBackendPort: RABBITMQ.port, maxconn: maxIdle + 100,
      })
      servers.push(h)
      if (wanted('haproxyMtls')) endpoints.push({ id: 'haproxyMtls', pids: [h.pid], mqtt: mqttAt(h.ports.mqttMtls) })
      if (wanted('haproxyTls')) endpoints.push({ id: 'haproxyTls', pids: [h.pid], tlsOnly: tlsOnlyAt(h.ports.mqttTls), ...amqpAt(h.ports.amqpTls, rabbitmqAuth) })
    }
    // Needs only Node: the floor Portcullis is compared with.
    if (wanted('nodePipe')) {
      const pipe = await startNodePipe({
        core: pinnedCore, serverCertFile: pki.files.serverCert, serverKeyFile: pki.files.serverKey, clientCaFile: pki.files.clientCaPem,
        mqttBackendPort: mosquitto.port, amqpBackendPort: RABBITMQ.port,
      })
      servers.push(pipe)
      endpoints.push({
        id: 'nodePipe', pids: [pipe.pid],
        mqtt: mqttAt(pipe.ports.mqttMtls), tlsOnly: tlsOnlyAt(pipe.ports.mqttTls), ...amqpAt(pipe.ports.amqpTls, rabbitmqAuth),
      })
    }
    // The same gateway twice, alike but for authorization: its data directory, config and audit
    // file its own, the same certificates and brokers.
    let enforced: { auditFile: string; output: () => string } | undefined
    for (const id of ['portcullis', 'portcullisEnforce', 'portcullisWorkers'] as const) {
      if (!wanted(id)) continue
      const enforce = id === 'portcullisEnforce'
      const workers = id === 'portcullisWorkers' ? PORTCULLIS_WORKERS : options.workers
      if (workers > 1 && !(await reachable(REDIS.host, REDIS.port))) {
        err(`bench: Redis is not reachable on ${REDIS.host}:${REDIS.port}; ${ENDPOINT_LABELS[id]} (workers: ${workers}) needs it and is skipped.`)
        results.note(`${ENDPOINT_LABELS[id]} skipped: workers: ${workers} needs Redis on ${REDIS.host}:${REDIS.port}.`)
        continue
      }
      const p = await startPortcullis({
        name: enforce ? 'portcullis-enforce' : id === 'portcullisWorkers' ? 'portcullis-workers' : 'portcullis',
        dir, core: pinnedCore, serverCertFile: pki.files.serverCert, serverKeyFile: pki.files.serverKey, workers,
      })
      servers.push(p)
      let accessKey: Awaited<ReturnType<typeof configurePortcullis>>
      try {
        accessKey = await configurePortcullis(p.admin, {
          mqttBackendPort: mosquitto.port, amqp: { port: RABBITMQ.port, username: RABBITMQ.username, password: RABBITMQ.password }, clientCa: pki.clientCa,
          authorization: enforce ? 'enforce' : 'off',
        })
      } catch (e) {
        // The enforced column is the newest part: a refused policy costs that column, not the run.
        if (!enforce) throw e
        const why = e instanceof Error ? e.message : String(e)
        err(`bench: Portcullis enforce could not be configured, its column stays empty: ${why}`)
        results.note(`Portcullis enforce not configured: ${why}`)
        continue
      }
      if (enforce) enforced = { auditFile: p.auditFile, output: () => p.output() }
      endpoints.push({
        id, pids: [p.pid, ...p.workerPids()], auditFile: p.auditFile,
        mqtt: mqttAt(p.mqttPort), tlsOnly: tlsOnlyAt(p.mqttPort), ...amqpAt(p.amqpPort, { kind: 'accessKey', instanceId: AMQP_INSTANCE, ...accessKey }),
        ...(enforce ? { decisions: () => p.admin.decisions() } : {}),
      })
    }
    // Measured in the order --endpoints names them: `portcullisEnforce,portcullis` alternates
    // which of the two runs first, on a machine whose noise drifts within a run.
    endpoints.sort((a, b) => options.endpoints.indexOf(a.id) - options.endpoints.indexOf(b.id))

    receiver = new LoadWorker('receiver')
    sender = new LoadWorker('sender')
    const placement = [
      ...servers.map((s) => `${s.name} (pid ${s.pid}) on CPU ${affinityOf(s.pid)}`),
      `load generator (bench pid ${process.pid}, workers ${receiver.pid}, ${sender.pid}) on CPU ${affinityOf(process.pid)}`,
      'RabbitMQ: the system service, not pinned',
    ]
    err(`bench: ${options.mode} run; ${placement.join('; ')}`)
    const ctx: BenchContext = {
      options, results, receiver, sender, brokerPid: mosquitto.pid, runId: String(started),
      log: (m) => { if (options.verbose) err(`bench: ${m}`) },
    }

    // ── measurements: one endpoint after the other within each, so conditions stay alike ──
    // Idle memory first, on fresh processes: after the throughput runs a proxy's heap has grown and
    // the RSS delta of new connections would hide in memory freed earlier.
    // Not named, the 2-worker gateway takes part in the storm only and the enforced one in all but it.
    const general = endpoints.filter((ep) => ep.id !== 'portcullisWorkers' || options.endpointsNamed)
    if (want('idle')) for (const ep of general) await idleMemory(ctx, ep, idle)
    if (want('throughput')) {
      // Unmeasured: what it records goes to a Results nobody reads.
      if (options.throughputWarmupMs > 0) {
        const warmup: BenchContext = { ...ctx, results: new Results(), options: { ...options, throughputMs: options.throughputWarmupMs } }
        for (const ep of general) {
          await throughput(warmup, 'mqtt', 64, ep)
          if (amqpUp) await throughput(warmup, 'amqp', 64, ep)
        }
      }
      for (const size of options.mqttPayloads) for (const ep of general) await throughput(ctx, 'mqtt', size, ep)
      if (amqpUp) for (const size of options.amqpPayloads) for (const ep of general) await throughput(ctx, 'amqp', size, ep)
    }
    if (want('connect')) {
      for (const c of CONNECT_CASES.filter((c) => options.connectCases.includes(c.id))) for (const ep of general) await connectRate(ctx, c, ep)
    }
    if (want('latency')) for (const ep of general) await latency(ctx, ep)
    let storm: StormReport | undefined
    if (want('storm')) {
      const stormEndpoints = endpoints.filter((ep) => ep.mqtt?.tls?.cert !== undefined && (ep.id !== 'portcullisEnforce' || options.endpointsNamed))
      const certificates = Math.min(options.stormCerts ?? stormDevices, stormDevices)
      const issued = Date.now()
      const certs = await createDeviceCertificates(pki.clientCa, certificates)
      ctx.log(`${certificates} device certificates issued in ${Date.now() - issued} ms`)
      stormPool = Array.from({ length: options.stormProcesses }, (_, i) => new LoadWorker(`storm-${i + 1}`))
      const done: StormEndpointResult[] = []
      for (const ep of stormEndpoints) {
        try {
          const r = await reconnectStorm(ctx, ep, { certs, devices: stormDevices }, stormPool, { brokerPid: mosquitto.pid, ...(ep.auditFile !== undefined ? { auditFile: ep.auditFile } : {}) })
          if (r !== undefined) done.push(r)
        } catch (e) {
          results.note(`reconnect storm, ${ep.id}: ${e instanceof Error ? e.message : String(e)}`)
        }
      }
      for (const w of stormPool) w.stop()
      stormPool = []
      storm = {
        devices: stormDevices, certificates, processes: options.stormProcesses, primed: options.stormPrime,
        attemptTimeoutMs: options.stormAttemptTimeoutMs, deadlineMs: options.stormDeadlineMs, backoff: options.stormBackoff, endpoints: done,
      }
    }
    let authorization: AuthorizationSummary | undefined
    if (enforced !== undefined) authorization = await authorizationRow(results, enforced)

    // ── report ──────────────────────────────────────────────────────────────────────────────
    const seconds = (Date.now() - started) / 1000
    const heading = [
      `Portcullis bench, ${options.mode} mode, ${new Date(started).toISOString()}, ${seconds.toFixed(0)} s`,
      `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}, ${machine.mosquitto ?? 'mosquitto'}, ${machine.haproxy ?? 'no HAProxy'}`,
      `Placement: ${placement.join('; ')}`,
      ...(storm !== undefined ? [`Storm: ${storm.devices} devices, ${storm.certificates} client certificates, ${storm.processes} generator processes, ${storm.primed ? 'primed' : 'cold'}; generator soft open-file limit ${fd.soft}.`] : []),
      `Load: ${options.publishers} publishers × QoS0 for ${options.throughputMs} ms per size; connection rate ${options.connectConcurrency} in flight for ${options.connectMs} ms after ${options.connectWarmupMs} ms unmeasured; round trip ${options.latencyRate} msg/s for ${options.latencyMs} ms; ${idle} idle connections. Certificates ECDSA P-256, TLS 1.3.`,
    ]
    out(heading.join('\n') + '\n')
    if (results.rows.length > 0) out(results.markdown())
    if (storm !== undefined) out('\n' + stormMarkdown(storm))
    if (authorization !== undefined) out('\n' + authorizationMarkdown(authorization))
    if (results.notes.length > 0) out('\nNotes:\n' + results.notes.map((n) => `- ${n}`).join('\n'))
    const resultsDir = join(ROOT, 'bench/results')
    mkdirSync(resultsDir, { recursive: true })
    const file = join(resultsDir, `${new Date(started).toISOString().replace(/[:.]/g, '-')}.json`)
    const json = JSON.stringify({ started: new Date(started).toISOString(), seconds, options: { ...options, idleConnections: idle }, machine, placement, endpoints: ENDPOINT_LABELS, rows: results.rows, notes: results.notes, details: results.details, instances: { mqtt: MQTT_INSTANCE, amqp: AMQP_INSTANCE }, ...(authorization !== undefined ? { authorization } : {}), ...(storm !== undefined ? { storm } : {}) }, null, 2)
    writeFileSync(file, json + '\n')
    writeFileSync(join(resultsDir, 'latest.json'), json + '\n')
    out(`\nJSON: ${file}`)
    return 0
  } finally {
    receiver?.stop()
    sender?.stop()
    for (const w of stormPool) w.stop()
    for (const s of servers.reverse()) await s.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The decision's own cost, measured in this process once the load is over (core 1 is then idle),
 * as rows of the enforced column; then the enforced gateway's refusals and the ratios.
 */
async function authorizationRow(results: Results, enforced: { auditFile: string; output: () => string }): Promise<AuthorizationSummary> {
  let decision: PolicyDecisionFigures | undefined
  let decisionError: string | undefined
  try {
    decision = await measurePolicyDecision()
    const row = (id: string, label: string, unit: string): RowSpec =>
      ({ id: `authz-decision-${id}`, label: `one policy decision, ${decision?.statements ?? '?'} statements: ${label}`, unit, decimals: 1, reference: 'haproxyMtls' })
    results.set(row('publish-allowed', 'allowed publish', 'ns'), 'portcullisEnforce', decision.nsPerAllowedPublish)
    results.set(row('publish-denied', 'denied publish', 'ns'), 'portcullisEnforce', decision.nsPerDeniedPublish)
    results.set(row('subscribe', 'subscribe filter', 'ns'), 'portcullisEnforce', decision.nsPerSubscribe)
    results.set(row('compile', 'compiling the policies', 'µs'), 'portcullisEnforce', decision.compileMicros)
  } catch (e) {
    decisionError = e instanceof Error ? e.message : String(e)
    results.note(`policy decision (bench/policy-decision.ts): ${decisionError}`)
  }
  // The audit file sink writes in batches (lingerMs); the last sessions' closes are just behind.
  await new Promise((r) => setTimeout(r, 500))
  const audit: AuditCounts = auditCounts(enforced.auditFile)
  if (audit.denials > 0 || audit.refusedConnects > 0) {
    results.note(`Portcullis enforce refused bench clients: ${audit.denials.toLocaleString('en-US')} denial(s), ${audit.refusedConnects} connection(s) NOT_AUTHORIZED; first ${String(audit.firstDenied?.action)} on ${String(audit.firstDenied?.resource)}`)
  }
  const summary = summarizeAuthorization(results, {
    ...(decision !== undefined ? { decision } : {}), ...(decisionError !== undefined ? { decisionError } : {}), audit,
  })
  // What the gateway said (log level warn) is the first place to look when it did not deliver.
  const log = enforced.output().trim().split('\n').slice(-15).join('\n')
  if (summary.protocols.some((v) => v.invalid !== undefined) && log !== '') results.note(`Portcullis enforce, last lines of its log:\n${log}`)
  return summary
}

main().then(
  (code) => { process.exitCode = code },
  (e: unknown) => {
    err(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
    process.exitCode = 1
  },
)

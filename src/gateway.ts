import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import type { AddressInfo } from 'node:net'
import type { Config, ListenerConfig } from './config/schema'
import { ConfigReloader, type ReloadOutcome, type ReloadTrigger } from './config/reload'
import { liveApplier, type LiveListener } from './config/apply-live'
import { readNamedVariable, readSecrets, type EnvSecrets } from './config/load'
import { assertSealedKeysLoaded } from './keys/assert-loaded'
import { KeyRotation } from './keys/key-rotation'
import { loadKeyring } from './keys/load-keyring'
import { openStore, storeWriteState } from './store/open'
import { StoreFreshness } from './store/freshness'
import { ResyncLoop } from './store/resync-loop'
import { createLogger, type Logger } from './observability/logger'
import { Metrics } from './observability/metrics'
import { guardUnhandledRejections } from './observability/rejection-guard'
import { AuditLog } from './audit/audit-log'
import { createAuditSinks } from './audit/sinks'
import { AuditSinkSet } from './audit/sink-set'
import { watchConfigFile } from './config/watch-file'
import { createAuditQuery } from './audit/query'
import { loadOrCreateRootKey, type RootAccessKey } from './admin/root-key'
import { AccessKeyService } from './auth/access-keys'
import { StaticAccountService } from './auth/static-accounts'
import { SecurityTokens } from './auth/security-tokens'
import { AmqpAuthenticator } from './auth/authenticate'
import { openInstanceSecrets } from './instances/instance-secrets'
import { createAdminServer } from './admin/server'
import { listenOrExplain } from './admin/listen-error'
import { buildAdminContext } from './admin/context'
import { AccountService } from './accounts/account-service'
import { PolicyService } from './accounts/policy-service'
import { AuthorizationService } from './authorization/authorization-service'
import { DenialAudit } from './authorization/denial-audit'
import { PolicyCache } from './authorization/policy-cache'
import { InstanceService } from './instances/instance-service'
import { RegistrationCodes } from './ca/registration-codes'
import { CaRegistry } from './ca/ca-registry'
import { DeviceRegistry } from './ca/device-registry'
import { InstanceDirectory } from './proxy/instance-directory'
import { TlsContexts } from './proxy/tls-contexts'
import { TrustIndexCache } from './proxy/trust-cache'
import { ChainVerdictSharing } from './proxy/chain-verdict-sharing'
import { DeviceCache } from './proxy/device-cache'
import { SessionRegistry } from './proxy/session-registry'
import { SessionRules } from './proxy/session-rules'
import { SessionRecheck } from './proxy/session-recheck'
import { ClusterSessions } from './proxy/cluster-sessions'
import { notifyPrimaryOfReload, workerListenPorts } from './cluster'
import { TickBudget } from './proxy/pump'
import { Listener } from './proxy/listener'
import { connectionLimitsFrom } from './proxy/limits/source-limits'
import { AmqpWarmPool } from './protocols/amqp/backend-pool/warm-pool'
import { warmPoolSettings } from './protocols/amqp/backend-pool/settings'
import type { PipelineDeps } from './proxy/deps'
import type { KeyPair } from './proxy/tls-contexts'
import type { Store } from './store/store'
import { EmbeddedBrokers } from './backends/embedded-brokers'
import { BlacklistCache } from './proxy/blacklist-cache'
import { BlacklistService } from './blacklist/blacklist-service'
import { AddressSet, NetworkMap } from './tunnel/cidr'
import { loadDefaultKeyPair, watchDefaultKeyPair } from './tls/default-certificate'
import { ticketKeysFor, untilNextEpoch } from './tls/ticket-keys'
import { ServerCertificates } from './tls/server-certificates'
import { setUpDemo, type DemoInfo } from './demo'
import { watchCaGauge } from './observability/ca-gauge'
import { watchFreshnessGauge } from './observability/freshness-gauge'
import { warmConnectionPath } from './warmup/connection-path'
import { connectionTiering } from './runtime/v8-tiering'

export interface Gateway {
  readonly processId: string
  readonly adminUrl: string
  readonly rootAccessKey: RootAccessKey
  /** The audit log, for embedding and tests (recent events, subscriptions). */
  readonly audit: AuditLog
  readonly sessions: SessionRegistry
  readonly demo?: DemoInfo
  listenerAddress(name: string): AddressInfo
  /**
   * Graceful stop (DESIGN §4 `shutdown`): `/readyz` 503 at once, listeners accept for
   * readinessDelayMs more, then stop; sessions get the protocol's goodbye (kick SHUTDOWN) and at
   * most drainTimeoutMs to end; the rest is cut, then everything is closed.
   */
  stop(): Promise<void>
  /** Reopens the audit file sinks by path (SIGHUP after logrotate); shareable with a config reload. */
  reopenSinks(): Promise<void>
  /**
   * Re-reads the config the gateway started from and applies what changed (DESIGN §4 "Operations
   * and keys"; src/config/reload.ts): SIGHUP and `POST /v1/config/reload`. Reopens the audit sinks
   * first, whatever the outcome. Never rejects for a bad file: the outcome says `invalid`.
   */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome>
  /** The config in force now (the start config, then what each reload applied). */
  readonly config: Config
}

export interface StartOptions {
  secrets?: EnvSecrets
  logger?: Logger
  /** Where a reload reads the config again: the file `start` was given (absent: defaults + env) and the environment. */
  reloadFrom?: { file?: string; env: NodeJS.ProcessEnv }
}

/** PipelineDeps as the composition root holds it: a reload replaces these members in place. */
type ReloadableDeps = Omit<PipelineDeps, 'config' | 'networks' | 'tlsContexts'> & { -readonly [K in 'config' | 'networks' | 'tlsContexts']: PipelineDeps[K] }

/**
 * The composition root: builds every part once, wires them, starts listening. Nothing here
 * decides anything; order matters only so that the store and the instance cache are ready before
 * the first connection is accepted, and that stop() undoes it in reverse.
 */
export async function startGateway(config: Config, options: StartOptions = {}): Promise<Gateway> {
  const secrets = options.secrets ?? readSecrets()
  const processId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const logger = options.logger ?? createLogger({ level: config.log.level })
  const metrics = new Metrics()
  const cleanups: Array<() => Promise<void> | void> = [guardUnhandledRejections(logger, metrics)]
  try {
    const store = await openStore(config.store, processId, logger)
    cleanups.push(() => store.close())
    // The replica's view of the store (DESIGN §4): the resync loop listens from here on, so a loss
    // during start-up is not missed; it resyncs once the caches exist (`start` below).
    const freshness = new StoreFreshness({ maxStaleMs: config.limits.maxStaleMs, logger })
    cleanups.push(() => freshness.close())
    cleanups.push(watchFreshnessGauge(freshness, metrics))
    const resyncLoop = new ResyncLoop({ connectivity: store, freshness, logger })
    cleanups.push(() => resyncLoop.close())
    const dataDir = config.store.dataDir
    // A redis-stream sink without its own `url` writes to the store's Redis on every topology (url,
    // sentinel, cluster); src/audit/redis-stream-place.ts says which key (docs/audit.md).
    const auditStore = { store: config.store }
    const sinks = await createAuditSinks(config.audit.sinks, auditStore)
    // Each process is its own hash chain; with several writing one stream, `chain` tells them apart.
    const audit = new AuditLog({ sinks, metrics, logger, recentSize: config.audit.recentEvents, chainId: processId })
    const sinkSet = new AuditSinkSet(config.audit.sinks, sinks, auditStore)
    cleanups.push(() => audit.close())
    const reloader = new ConfigReloader({
      ...(options.reloadFrom?.file !== undefined ? { file: options.reloadFrom.file } : {}),
      env: options.reloadFrom?.env ?? process.env,
      initial: config, registry: metrics.registry, audit, logger,
    })
    const auditQuery = createAuditQuery({
      audit, sinks: config.audit.sinks, logger, ...auditStore,
    })
    cleanups.push(() => auditQuery.close())

    const rootAccessKey = await loadOrCreateRootKey({ dataDir, secrets })
    // DESIGN §4 master key: a configured source that cannot be reached stops the start here.
    const keyring = await loadKeyring({
      masterKey: config.masterKey, secrets, dataDir,
      readEnv: (name) => readNamedVariable(options.reloadFrom?.env ?? process.env, name),
    })
    cleanups.push(() => keyring.close())
    logger.info({ masterKey: keyring.current.id, source: keyring.source, loaded: keyring.ids, ...(keyring.file !== undefined ? { file: keyring.file } : {}) }, 'master key loaded')
    await assertSealedKeysLoaded(store, keyring)
    const accessKeys = new AccessKeyService(store, keyring)
    cleanups.push(() => accessKeys.close())
    const staticAccounts = new StaticAccountService(store, accessKeys)
    const tokens = new SecurityTokens(keyring, accessKeys)
    const amqpAuth = new AmqpAuthenticator({
      accessKeys, staticAccounts, tokens, credentialWindowMs: config.limits.credentialWindowMs,
    })
    const instances = new InstanceService(store, { keyring })
    await bootstrapInstances(instances, config.instances, audit)
    // Seals secrets of records written before a keyring existed (re-wrapping is `keys rotate`'s).
    await instances.sealPlaintext()
    const keyRotation = new KeyRotation({
      store, keyring, audit, logger, processId, batchSize: config.keyRotation.batchSize, pauseMs: config.keyRotation.pauseMs,
    })
    cleanups.push(() => keyRotation.close())
    const codes = new RegistrationCodes(store)
    const cas = new CaRegistry(store, codes)
    const devices = new DeviceRegistry(store)

    const directory = await InstanceDirectory.load(store, (record) => openInstanceSecrets(record, keyring), logger)
    cleanups.push(() => directory.close())
    // A reload with other TLS files or another profile builds new contexts for new handshakes
    // (TLS sessions already established keep theirs) and watches the new files.
    const buildTls = (pair: KeyPair, tls: Config): TlsContexts => {
      const contexts = new TlsContexts(pair, directory, () => ticketKeysFor(keyring.current, Date.now()), tls.tls.profile)
      contexts.scheduleTicketRotation(() => untilNextEpoch(Date.now()))
      return contexts
    }
    const initialPair = await loadDefaultKeyPair(config, logger)
    let tlsContexts = buildTls(initialPair, config)
    cleanups.push(() => tlsContexts.close())
    // Expiry gauge, rotation counter and audit of the certificates presented (tls/server-certificates.ts).
    const serverCertificates = new ServerCertificates({ metrics, audit, logger })
    serverCertificates.presentDefault(initialPair, 'files')
    cleanups.push(serverCertificates.follow(directory))
    // Renewed files serve new handshakes at once; live sessions keep the certificate they began with.
    const onDefaultFiles = (pair: KeyPair): void => {
      tlsContexts.replaceDefault(pair)
      serverCertificates.presentDefault(pair, 'files')
    }
    let unwatchTls = watchDefaultKeyPair(config, logger, onDefaultFiles)
    cleanups.push(() => unwatchTls())
    const trust = new TrustIndexCache(store)
    cleanups.push(() => trust.close())
    const chainVerdicts = new ChainVerdictSharing(store, trust, processId)
    cleanups.push(() => chainVerdicts.close())
    const deviceCache = new DeviceCache(store)
    cleanups.push(() => deviceCache.close())
    const sessions = new SessionRegistry()
    const clusterSessions = new ClusterSessions(store, sessions, processId)
    cleanups.push(() => clusterSessions.close())
    const blacklistService = new BlacklistService(store)
    // Expired entries already stop applying when matched; this only keeps the list short.
    const purge = setInterval(() => {
      blacklistService.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'blacklist purge failed'))
    }, 3_600_000)
    purge.unref()
    cleanups.push(() => clearInterval(purge))
    const blacklist = await BlacklistCache.load(store)
    cleanups.push(() => blacklist.close())
    // DESIGN §4 authorization: every policy and attachment in memory, kept exact by change
    // notifications; decisions and their aggregated denial audit for enforcing instances.
    const policyCache = await PolicyCache.load(store)
    cleanups.push(() => policyCache.close())
    const denialAudit = new DenialAudit((input) => audit.record(input))
    cleanups.push(() => denialAudit.close())
    const authorization = new AuthorizationService({ policies: policyCache, directory, store, counters: metrics.authorizationTallies, denials: denialAudit })
    cleanups.push(() => authorization.close())
    const rules = new SessionRules({ directory, blacklist, trust, devices: deviceCache, accessKeys, staticAccounts, authorization })
    const recheck = new SessionRecheck(store, sessions, rules, { maxStaleMs: config.limits.maxStaleMs, logger })
    cleanups.push(() => recheck.close())
    resyncLoop.start(() => resyncAll({ store, accessKeys, trust, deviceCache, directory, blacklist, policyCache, authorization, recheck }))
    const networks = new NetworkMap(config.networks)
    const proxyTrust = new Map<string, AddressSet>()
    const setProxyTrust = (list: readonly ListenerConfig[]): void => {
      proxyTrust.clear()
      for (const l of list) proxyTrust.set(l.name, AddressSet.parse(l.proxyProtocol.trustedCidrs))
    }
    setProxyTrust(config.listeners)
    const embeddedBrokers = new EmbeddedBrokers()
    cleanups.push(() => embeddedBrokers.close())
    cleanups.push(await watchCaGauge(store, metrics))
    const storeProbe = setInterval(() => {
      store.ping().then((up) => metrics.storeUp.set(up ? 1 : 0), () => metrics.storeUp.set(0))
    }, 5000)
    storeProbe.unref()
    cleanups.push(() => clearInterval(storeProbe))
    metrics.storeUp.set(1)

    const demo = config.demo ? await setUpDemo({ config, instances, codes, cas, audit, logger }) : undefined

    // Set by stop(): from then on /readyz says 503 while the listeners drain (DESIGN §4 `shutdown`).
    const shutdown = { begun: false }
    // Every Active AccessKey signs admin calls; what it may do is its account's policies' to say
    // (root: everything). buildAdminContext decides that for the tests too.
    const accounts = new AccountService(store)
    const policies = new PolicyService(store, accounts)
    const adminReload = {
      // With `workers: N`, the worker that answered asks the primary to SIGHUP the others
      // (src/cluster.ts); a file refused here would be refused there too.
      reload: async (trigger: ReloadTrigger): Promise<ReloadOutcome> => {
        const outcome = await reloader.reload(trigger)
        if (outcome.result !== 'invalid') notifyPrimaryOfReload()
        return outcome
      },
    }
    const admin = createAdminServer(buildAdminContext({
      store, instances, cas, devices, codes, audit, metrics, logger,
      sessions: clusterSessions,
      accessKeys, staticAccounts, tokens, blacklist: blacklistService, auditQuery,
      accounts, policies, keys: keyRotation,
      admission: { directory, freshness, trust, deviceCache, amqpAuth, blacklist, authorization },
      authorizationDecisions: (action, allowed) => metrics.authorizationDecisions.inc({ protocol: 'admin', action, result: allowed ? 'allow' : 'deny' }),
      rootAccessKey,
      limits: config.limits,
      // Ready = not stopping, the store answers and can write (an embedded store on a full disk is
      // read-only), AND this replica has re-read it since it was last lost.
      ready: async () => {
        if (shutdown.begun) return { ready: false, code: 'SHUTTING_DOWN' }
        if (!(await store.ping())) return { ready: false, code: 'STORE_UNAVAILABLE' }
        if (!storeWriteState(store).writable) return { ready: false, code: 'STORE_READ_ONLY' }
        return freshness.state().name === 'fresh' ? { ready: true } : { ready: false, code: 'STORE_RESYNCING' }
      },
    }), { configReload: adminReload })
    cleanups.push(() => admin.close())
    // A port already taken is named with its config key (ADDRESS_IN_USE), not INTERNAL.
    const adminTarget = { what: 'admin API', portKey: 'admin.port', hostKey: 'admin.host', host: config.admin.host, port: config.admin.port }
    await listenOrExplain(adminTarget, () => admin.listen({ host: config.admin.host, port: config.admin.port }))
    const adminAddress = admin.server.address() as AddressInfo
    const adminUrl = `http://${formatHost(adminAddress.address)}:${adminAddress.port}`

    // Abuse limits (DESIGN §4), per process. Failed logins are counted from the audit log, the one
    // place every refusal passes exactly once, whichever stage refused it.
    const connectionLimits = connectionLimitsFrom(config.limits)
    cleanups.push(() => connectionLimits.handshakes.close())
    cleanups.push(audit.subscribe((event) => connectionLimits.handshakes.observe(event)))
    metrics.watchHandshakes(connectionLimits.handshakes)
    const failedAuth = connectionLimits.failedAuth
    if (failedAuth !== undefined) cleanups.push(audit.subscribe((event) => failedAuth.observe(event)))
    // The AMQP warm pool (limits.amqpWarmPool; each worker has its own): settings read from the
    // running config at every client, so a reload applies at once; an instance change (backend
    // password rotation, update, delete, a reload's bootstrap) drops that instance's connections.
    const warmUpstreams = new AmqpWarmPool({
      settings: () => warmPoolSettings(deps.config.limits),
      processId, metrics, logger,
      currentInstance: (id) => directory.get(id),
    })
    cleanups.push(() => warmUpstreams.close())
    cleanups.push(directory.onChange((id) => warmUpstreams.dropInstance(id)))
    const deps: ReloadableDeps = {
      config, processId, directory, tlsContexts, trust, chainVerdicts, devices, deviceCache, amqpAuth, sessions, recheck,
      audit, metrics, logger, embeddedBrokers, blacklist, networks, freshness, connectionLimits, authorization,
      warmUpstreams,
      proxyTrust: (name) => proxyTrust.get(name) ?? AddressSet.parse([]),
      upstreamBudget: new TickBudget(config.limits.upstreamBytesPerTick),
    }
    // V8 warm-up of the per-connection code (src/warmup/), before any listener accepts a client.
    const warmup = warmConnectionPath()
    logger.info({ rounds: warmup.rounds, ms: Math.round(warmup.ms), v8Tiering: connectionTiering() ?? 'default' }, 'connection path warmed up')
    const listeners = new Map<string, LiveListener>()
    // If a later listener cannot start, the earlier ones must not keep the failed process alive.
    cleanups.push(() => Promise.all([...listeners.values()].map((l) => { l.destroyAll(); return l.stopAccepting() })).then(() => undefined))
    const sharedPorts = workerListenPorts()
    // `shared`: a worker binds the port the primary reserved for this listener name (SO_REUSEPORT)
    // at start, and again when a reload changes the listener's other settings: the other workers
    // keep their sockets on that port meanwhile, so it is never unserved (and a plain bind beside
    // their SO_REUSEPORT sockets would fail). A listener a reload adds, or moves to another host or
    // port, listens as usual (the cluster module shares it between workers).
    const startedAs = new Map(config.listeners.map((l) => [l.name, `${l.host}:${l.port}`]))
    const startListener = async (listenerConfig: ListenerConfig, index: number, atStart: boolean): Promise<Listener> => {
      const shared = atStart || startedAs.get(listenerConfig.name) === `${listenerConfig.host}:${listenerConfig.port}`
      const reusePort = shared ? sharedPorts.get(listenerConfig.name) : undefined
      const target = { what: `listener "${listenerConfig.name}"`, portKey: `listeners[${index}].port`, hostKey: `listeners[${index}].host`, host: listenerConfig.host, port: listenerConfig.port }
      const listener = await listenOrExplain(target, () => Listener.start(listenerConfig, deps, reusePort !== undefined ? { reusePort } : {}))
      logger.info({ listener: listenerConfig.name, protocol: listenerConfig.protocol, address: listener.address }, 'listening')
      return listener
    }
    for (const [index, listenerConfig] of config.listeners.entries()) {
      listeners.set(listenerConfig.name, await startListener(listenerConfig, index, true))
    }
    const draining = new Set<Promise<void>>()
    reloader.enable(liveApplier<KeyPair>({
      logger, listeners, sessions, draining,
      startListener: (listenerConfig, index) => startListener(listenerConfig, index, false),
      loadKeyPair: (next) => loadDefaultKeyPair(next, logger),
      swapTls: (pair, next) => {
        const previous = tlsContexts
        unwatchTls()
        tlsContexts = buildTls(pair, next)
        deps.tlsContexts = tlsContexts
        unwatchTls = watchDefaultKeyPair(next, logger, onDefaultFiles)
        previous.close()
        serverCertificates.presentDefault(pair, 'reload')
      },
      swapNetworks: (next) => {
        deps.networks = new NetworkMap(next.networks)
      },
      swapProxyTrust: setProxyTrust,
      bootstrapInstances: (next) => bootstrapInstances(instances, next.instances, audit),
      swapAuditSinks: async (next) => {
        const { added, removed } = await sinkSet.reconcile(audit, next.audit.sinks)
        logger.info({ added, removed }, 'audit sinks changed by a config reload')
      },
      swapConfig: (next) => {
        deps.config = next
      },
    }))
    logger.info({ admin: adminUrl, store: config.store.kind, processId, rootKey: rootAccessKey.file ?? rootAccessKey.source }, 'portcullis started')
    // `reload.watchFile` (a mounted ConfigMap): a changed file reloads as a SIGHUP would; with
    // workers, each watches it itself.
    const watchedFile = options.reloadFrom?.file
    if (config.reload.watchFile && watchedFile !== undefined) {
      cleanups.push(watchConfigFile(watchedFile, () => {
        void reloader.reload({ kind: 'file' })
      }))
    }
    // A rotation a crash (or a stop) left unfinished carries on now, beside the data path.
    keyRotation.resumeIfUnfinished()

    let stopping: Promise<void> | undefined
    const stop = (): Promise<void> => {
      shutdown.begun = true
      reloader.disable()
      stopping ??= (async () => {
        const { readinessDelayMs, drainTimeoutMs } = reloader.current.shutdown
        logger.info({ readinessDelayMs, drainTimeoutMs, sessions: sessions.size }, 'shutting down')
        // Still accepting while a load balancer notices the 503 (it may send a few more clients).
        await sleep(readinessDelayMs)
        // The servers' close completes only once their connections are gone, so it is awaited
        // after the goodbyes and the forced close of the rest.
        const closed = Promise.all([...listeners.values()].map((l) => l.stopAccepting().catch(() => undefined)))
        // Connections still in their handshake become sessions during the drain: each gets its
        // goodbye once registered, until the deadline.
        const kicked = new Set<string>()
        const kickNew = (): void => {
          for (const view of sessions.list()) {
            if (kicked.has(view.connId)) continue
            kicked.add(view.connId)
            sessions.kick(view.connId, 'SHUTDOWN')
          }
        }
        kickNew()
        await waitUntil(() => {
          kickNew()
          return sessions.size === 0 && [...listeners.values()].every((l) => l.connections === 0)
        }, drainTimeoutMs)
        for (const l of listeners.values()) l.destroyAll()
        await closed
        // Listeners a reload removed end within their own drain deadline.
        await Promise.all(draining)
        await runCleanups(cleanups)
      })()
      return stopping
    }
    return {
      processId,
      adminUrl,
      rootAccessKey,
      audit,
      sessions,
      ...(demo !== undefined ? { demo } : {}),
      listenerAddress(name) {
        const l = listeners.get(name)
        if (l === undefined) throw new Error(`no listener named ${name}`)
        return l.address
      },
      stop,
      reopenSinks: () => audit.reopenSinks(),
      reload: (trigger) => reloader.reload(trigger),
      get config() {
        return reloader.current
      },
    }
  } catch (err) {
    await runCleanups(cleanups)
    throw err
  }
}

/** The declarative `instances[]` (create/update), each change audited as the config's doing. */
async function bootstrapInstances(instances: InstanceService, wanted: Config['instances'], audit: AuditLog): Promise<void> {
  for (const result of await instances.bootstrap(wanted)) {
    if (result.action === 'unchanged') continue
    audit.record({
      type: `admin.instance.${result.action}`, outcome: 'success', instanceId: result.id,
      actor: { kind: 'system', id: 'config' }, details: { ...result.change },
    })
  }
}

/**
 * After change notifications may have been missed (the store was lost; Redis pub/sub does not
 * replay): every cache re-read, then every live session checked against what is true now. Throws
 * when the store fails meanwhile; the resync loop retries it (src/store/resync-loop.ts).
 */
async function resyncAll(p: {
  store: Store
  accessKeys: Pick<AccessKeyService, 'dropCache'>
  trust: Pick<TrustIndexCache, 'clear'>
  deviceCache: Pick<DeviceCache, 'clear'>
  directory: Pick<InstanceDirectory, 'reload'>
  blacklist: Pick<BlacklistCache, 'reload'>
  policyCache: Pick<PolicyCache, 'reload'>
  authorization: Pick<AuthorizationService, 'dropCache'>
  recheck: Pick<SessionRecheck, 'reevaluateAll'>
}): Promise<void> {
  p.accessKeys.dropCache()
  p.trust.clear()
  p.deviceCache.clear()
  await Promise.all([p.directory.reload(p.store), p.blacklist.reload(), p.policyCache.reload()])
  p.authorization.dropCache()
  await p.recheck.reevaluateAll()
}

async function runCleanups(cleanups: Array<() => Promise<void> | void>): Promise<void> {
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup()
    } catch {
      // Keep closing the rest; a failing close must not leave other resources open.
    }
  }
  cleanups.length = 0
}

function sleep(ms: number): Promise<void> {
  return ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms))
}

function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition() || Date.now() >= deadline) resolve()
      else setTimeout(check, 20)
    }
    check()
  })
}


function formatHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address
}

import { Counter, type Registry } from 'prom-client'
import type { AuditActor, AuditInput, AuditSource } from '../audit/event'
import { isPortcullisError, PortcullisError, type ErrorCode } from '../errors'
import type { Logger } from '../observability/logger'
import { diffConfig, type ConfigChange } from './diff'
import { loadConfig } from './load'
import { planReload, RESTART_MESSAGE, type ReloadPlan } from './reload-plan'
import type { Config } from './schema'

/**
 * Config reload (DESIGN §4 "Operations and keys"), on SIGHUP and `POST /v1/config/reload`:
 *
 *   reopen audit sinks → re-read the file the gateway started with (+ PORTCULLIS_* overrides) →
 *   validate (refused: running config kept, CONFIG_INVALID naming the key) → diff against the
 *   running config → plan (live / restart-only keys, reload-plan.ts) → apply the live part
 *   (the gateway's applier) → metric + audit event `admin.config.reload` with the diff.
 *
 * Reloads run one at a time: a second one waits for the first, then reads the file again, so two
 * quick SIGHUPs never apply against a config that is being replaced. The audit sinks are reopened
 * first and whatever the file says: SIGHUP is also logrotate's `postrotate`, which must work even
 * while someone's edit of the config is broken.
 */
export const RELOAD_RESULTS = ['success', 'invalid', 'failed'] as const
export type ReloadResult = (typeof RELOAD_RESULTS)[number]

export type ReloadTrigger =
  | { readonly kind: 'signal' }
  /** `reload.watchFile`: the config file's content changed (config/watch-file.ts). */
  | { readonly kind: 'file' }
  | { readonly kind: 'admin'; readonly accessKeyId?: string; readonly source: AuditSource; readonly requestId: string }

/** What the gateway applies; it answers the paths it applied and throws when one step fails. */
export interface LiveApplier {
  apply(plan: ReloadPlan, running: Config): Promise<ApplyReport>
}

export interface ApplyReport {
  /** The config the gateway now runs with (what was applied; on a failure, up to the failed step). */
  readonly running: Config
  /** Listener name → address after the reload (added ones included). */
  readonly listeners: Readonly<Record<string, { address: string; port: number }>>
}

export type ReloadOutcome =
  | {
    readonly result: 'success'
    readonly applied: readonly string[]
    readonly restartNeeded: readonly string[]
    readonly changes: readonly ConfigChange[]
    readonly listeners: ApplyReport['listeners']
  }
  | { readonly result: 'invalid' | 'failed'; readonly code: ErrorCode; readonly message: string; readonly applied: readonly string[] }

export interface ConfigReloaderOptions {
  /** The file the gateway was started with; absent: defaults + overrides only (what `start` read). */
  file?: string
  env: NodeJS.ProcessEnv
  initial: Config
  registry: Registry
  audit: { record(input: AuditInput): unknown; reopenSinks(): Promise<void> }
  logger: Logger
}

export class ConfigReloader {
  private running: Config
  private applier: LiveApplier | undefined
  private queue: Promise<unknown> = Promise.resolve()
  private stopped = false
  private readonly counter: Counter<'result'>

  constructor(private readonly opts: ConfigReloaderOptions) {
    this.running = opts.initial
    this.counter = new Counter({
      name: 'portcullis_config_reloads_total',
      help: 'Config reloads (SIGHUP, POST /v1/config/reload) by result: success, invalid (refused, running config kept), failed (applying a step failed)',
      labelNames: ['result'],
      registers: [opts.registry],
    })
    for (const result of RELOAD_RESULTS) this.counter.inc({ result }, 0)
  }

  /** The config in force now (the initial one, then each reload's effective one). */
  get current(): Config {
    return this.running
  }

  /** Called once the gateway is fully started: until then a reload is refused (CONFLICT, retry). */
  enable(applier: LiveApplier): void {
    this.applier = applier
  }

  /** Refuses every later reload (SHUTTING_DOWN): called when a stop begins. */
  disable(): void {
    this.applier = undefined
    this.stopped = true
  }

  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.reloadNow(trigger))
    this.queue = run.catch(() => undefined)
    return run
  }

  private async reloadNow(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    await this.opts.audit.reopenSinks()
    const applier = this.applier
    if (applier === undefined) {
      const code: ErrorCode = this.stopped ? 'SHUTTING_DOWN' : 'CONFLICT'
      return this.finish(trigger, { result: 'failed', code, message: this.stopped ? 'the gateway is stopping' : 'the gateway is still starting; retry', applied: [] }, [])
    }
    let next: Config
    try {
      next = loadConfig({ ...(this.opts.file !== undefined ? { file: this.opts.file } : {}), env: this.opts.env })
    } catch (err) {
      if (!isPortcullisError(err, 'CONFIG_INVALID')) throw err
      return this.finish(trigger, { result: 'invalid', code: 'CONFIG_INVALID', message: err.message, applied: [] }, [])
    }
    const changes = diffConfig(this.running, next)
    const plan = planReload(this.running, next, changes)
    try {
      const report = await applier.apply(plan, this.running)
      this.running = report.running
      return this.finish(trigger, {
        result: 'success',
        applied: plan.live.map((c) => c.path),
        restartNeeded: plan.restartNeeded.map((c) => c.path),
        changes,
        listeners: report.listeners,
      }, changes)
    } catch (err) {
      if (err instanceof ApplyError) this.running = err.running
      const applied = err instanceof ApplyError ? [...err.applied] : []
      const code: ErrorCode = isPortcullisError(err) ? err.code : 'INTERNAL'
      const invalid = code === 'CONFIG_INVALID'
      return this.finish(trigger, { result: invalid ? 'invalid' : 'failed', code, message: err instanceof Error ? err.message : String(err), applied }, changes)
    }
  }

  private finish(trigger: ReloadTrigger, outcome: ReloadOutcome, changes: readonly ConfigChange[]): ReloadOutcome {
    this.counter.inc({ result: outcome.result })
    const actor: AuditActor = trigger.kind === 'signal'
      ? { kind: 'system', id: 'SIGHUP' }
      : trigger.kind === 'file'
      ? { kind: 'system', id: 'config-file' }
      : { kind: 'accessKey', ...(trigger.accessKeyId !== undefined ? { id: trigger.accessKeyId } : {}) }
    const details: Record<string, unknown> = {
      trigger: trigger.kind,
      ...(trigger.kind === 'admin' ? { requestId: trigger.requestId } : {}),
      changes: changes.map((c) => ({ ...c })),
      applied: [...outcome.applied],
    }
    if (outcome.result === 'success') {
      details.restartNeeded = [...outcome.restartNeeded]
      this.opts.logger.info({ trigger: trigger.kind, applied: outcome.applied, restartNeeded: outcome.restartNeeded }, 'config reloaded')
      if (outcome.restartNeeded.length > 0) {
        this.opts.logger.warn({ restartNeeded: outcome.restartNeeded }, `config keys not applied: ${RESTART_MESSAGE}`)
      }
    } else {
      details.message = outcome.message
      this.opts.logger.error({ trigger: trigger.kind, code: outcome.code, reason: outcome.message, applied: outcome.applied }, outcome.result === 'invalid' ? 'config reload refused; the running config is kept' : 'config reload failed')
    }
    this.opts.audit.record({
      type: 'admin.config.reload',
      outcome: outcome.result === 'success' ? 'success' : 'failure',
      ...(outcome.result === 'success' ? {} : { reason: outcome.code }),
      actor,
      ...(trigger.kind === 'admin' ? { source: trigger.source } : {}),
      details,
    })
    return outcome
  }
}

/**
 * Thrown by a LiveApplier whose step failed after earlier steps were applied: what runs now, and
 * which changed paths are already in force.
 */
export class ApplyError extends PortcullisError {
  constructor(error: unknown, readonly running: Config, readonly applied: readonly string[]) {
    super(isPortcullisError(error) ? error.code : 'INTERNAL', error instanceof Error ? error.message : String(error), { cause: error })
  }
}

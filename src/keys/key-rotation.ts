/**
 * `keys status` and `keys rotate` (DESIGN §4 "Operations and keys").
 *
 * A rotation re-wraps every stored data key under the keyring's current master key. Only the
 * 32-byte data keys are re-encrypted; the ciphertexts stay (auth/envelope.ts). The job:
 *
 *   POST /v1/keys/rotate → job record {state: running} → [lock key-rotation] list the secrets under
 *   other keys → batches of keyRotation.batchSize (each record compare-and-set; progress written
 *   after each batch; keyRotation.pauseMs between batches) → recount → {state: done | failed}
 *
 * - Resumable: the job record is the truth. A process that dies mid-job leaves it `running`; the
 *   next start (this process or any replica) finds it and carries on with what is still under
 *   another key: records already re-wrapped are not touched again, so a crash costs nothing twice.
 * - One at a time, across replicas: the work runs under the store lock `key-rotation`, and a
 *   request while a job's heartbeat is fresh is refused CONFLICT.
 * - Off the data path: records are read and written one at a time through the store, yielding to
 *   the event loop between batches; logins keep being answered from the caches meanwhile, and a
 *   record re-wrapped under them still opens (both keys are loaded).
 * - Audited: `admin.keys.rotate` for the request (routes/keys.ts), `keys.rotation.resumed`,
 *   `keys.rotation.completed` / `keys.rotation.failed` with the counts.
 *
 * A secret that does not open (its key is not loaded, or tampered with) is counted `failed` and
 * named in the job's error; the job goes on with the others and ends `failed`.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { AuditLog } from '../audit/audit-log'
import { PortcullisError } from '../errors'
import type { Logger } from '../observability/logger'
import { GLOBAL_SCOPE, type KeyRotationRecord } from '../store/records'
import type { Store } from '../store/store'
import type { MasterKeyring } from './master-key'
import { countByKey, rewrapRecord, sealedSecrets, type SealedRef } from './sealed-secrets'

/** A job whose heartbeat is older than this is taken to have lost its process. */
export const ROTATION_STALE_MS = 15_000
const HEARTBEAT_MS = 5_000
const JOB_ID = 'current'
const LOCK = 'key-rotation'
/** A resumption that could not take the lock (another replica, a store outage) tries again after this. */
const RETRY_MS = 10_000

export interface KeyStatus {
  currentKeyId: string
  keys: Array<{ keyId: string; loaded: boolean; current: boolean; provider?: string; secrets: number }>
  rotation: KeyRotationRecord | null
}

export interface KeyRotationOptions {
  store: Store
  keyring: MasterKeyring
  audit: Pick<AuditLog, 'record'>
  logger: Logger
  processId: string
  batchSize: number
  pauseMs: number
  now?: () => Date
}

export class KeyRotation {
  private running: Promise<void> | undefined
  private closed = false
  private retry: NodeJS.Timeout | undefined
  private readonly now: () => Date

  constructor(private readonly opts: KeyRotationOptions) {
    this.now = opts.now ?? (() => new Date())
  }

  /** Secrets per master key id, every loaded key listed (with 0), and the last job. */
  async status(): Promise<KeyStatus> {
    const { keyring, store } = this.opts
    const counts = countByKey(await sealedSecrets(store))
    const ids = [...new Set([...keyring.ids, ...counts.keys()])]
    return {
      currentKeyId: keyring.current.id,
      keys: ids.map((keyId) => {
        const key = keyring.byId(keyId)
        return {
          keyId,
          loaded: key !== undefined,
          current: keyId === keyring.current.id,
          ...(key !== undefined ? { provider: key.provider } : {}),
          secrets: counts.get(keyId) ?? 0,
        }
      }),
      rotation: (await store.get('keyRotations', GLOBAL_SCOPE, JOB_ID)) ?? null,
    }
  }

  /** Starts a job towards the current key; CONFLICT while another one is alive. Answers the job as written. */
  async start(requestedBy: string | undefined): Promise<KeyRotationRecord> {
    if (this.closed) throw new PortcullisError('SHUTTING_DOWN', 'the gateway is shutting down')
    const now = this.now()
    let refused: KeyRotationRecord | undefined
    const job = await this.opts.store.update('keyRotations', GLOBAL_SCOPE, JOB_ID, (current) => {
      refused = undefined
      if (current !== undefined && this.alive(current, now)) {
        refused = current
        return undefined
      }
      return {
        id: JOB_ID, state: 'running', targetKeyId: this.opts.keyring.current.id, total: 0, done: 0, failed: 0,
        startedAt: now.toISOString(), heartbeatAt: now.toISOString(), owner: this.opts.processId, resumed: 0,
        ...(requestedBy !== undefined ? { requestedBy } : {}),
      }
    })
    if (refused !== undefined || job === undefined) {
      const r = refused
      throw new PortcullisError('CONFLICT', r === undefined
        ? 'the rotation job could not be written'
        : `a rotation to ${r.targetKeyId} is running (${r.done}/${r.total}, since ${r.startedAt}); see keys status`)
    }
    this.launch(false)
    return job
  }

  /** At start: carries on with a job a dead process left running. */
  resumeIfUnfinished(): void {
    this.launch(true)
  }

  /** Resolves when the job this process runs (if any) has stopped. */
  async idle(): Promise<void> {
    await this.running
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.retry !== undefined) clearTimeout(this.retry)
    await this.running
  }

  private alive(job: KeyRotationRecord, now: Date): boolean {
    return job.state === 'running' && now.getTime() - Date.parse(job.heartbeatAt) < ROTATION_STALE_MS && job.owner !== this.opts.processId
  }

  private launch(resume: boolean): void {
    if (this.running !== undefined || this.closed) return
    this.running = this.opts.store.withLock(LOCK, () => this.run(resume))
      .catch((err: unknown) => {
        this.opts.logger.error({ err }, 'master key rotation stopped; it resumes on the next start or keys rotate')
        this.scheduleRetry()
      })
      .finally(() => { this.running = undefined })
  }

  private scheduleRetry(): void {
    if (this.closed) return
    this.retry = setTimeout(() => {
      this.retry = undefined
      this.opts.store.get('keyRotations', GLOBAL_SCOPE, JOB_ID)
        .then((job) => { if (job?.state === 'running') this.launch(true) })
        .catch(() => this.scheduleRetry())
    }, RETRY_MS)
    this.retry.unref()
  }

  private async run(resume: boolean): Promise<void> {
    const { store, keyring, batchSize, pauseMs } = this.opts
    const job = await store.get('keyRotations', GLOBAL_SCOPE, JOB_ID)
    if (job === undefined || job.state !== 'running') return
    const target = keyring.current.id
    const under = (await sealedSecrets(store)).filter((s) => s.keyId !== target)
    const pending: SealedRef[] = dedupeRefs(under)
    let progress: KeyRotationRecord = {
      ...job, targetKeyId: target, owner: this.opts.processId, total: job.done + under.length,
      heartbeatAt: this.now().toISOString(), ...(resume ? { resumed: job.resumed + 1 } : {}),
    }
    await this.write(progress)
    if (resume) {
      this.opts.logger.warn({ targetKeyId: target, done: job.done, pending: pending.length }, 'resuming an unfinished master key rotation')
      this.opts.audit.record({ type: 'keys.rotation.resumed', outcome: 'success', actor: { kind: 'system' }, details: jobDetails(progress) })
    }
    const heartbeat = setInterval(() => { void this.beat() }, HEARTBEAT_MS)
    heartbeat.unref()
    const failures: string[] = []
    try {
      for (let i = 0; i < pending.length && !this.closed; i += batchSize) {
        let done = 0
        for (const ref of pending.slice(i, i + batchSize)) {
          try {
            done += await rewrapRecord(store, keyring, ref)
          } catch (err) {
            failures.push(`${ref.collection}/${ref.id}: ${err instanceof Error ? err.message : String(err)}`)
          }
        }
        progress = { ...progress, done: progress.done + done, failed: failures.length, heartbeatAt: this.now().toISOString() }
        await this.write(progress)
        // Between batches the data path has the event loop (and the token) to itself for a while.
        await (pauseMs > 0 ? sleep(pauseMs) : new Promise<void>((resolve) => setImmediate(resolve)))
      }
    } finally {
      clearInterval(heartbeat)
    }
    if (this.closed) return // left `running`: the next start carries on
    await this.finish(progress, failures)
  }

  private async finish(progress: KeyRotationRecord, failures: string[]): Promise<void> {
    const remaining = (await sealedSecrets(this.opts.store)).filter((s) => s.keyId !== progress.targetKeyId).length
    const finished: KeyRotationRecord = {
      ...progress,
      state: failures.length > 0 ? 'failed' : 'done',
      remaining,
      failed: failures.length,
      finishedAt: this.now().toISOString(),
      heartbeatAt: this.now().toISOString(),
      ...(failures.length > 0 ? { error: `${failures.length} secret(s) did not re-wrap; first: ${failures[0] ?? ''}`.slice(0, 1000) } : {}),
    }
    await this.write(finished)
    const ok = finished.state === 'done'
    this.opts.logger[ok ? 'info' : 'error']({ ...jobDetails(finished) }, ok ? 'master key rotation completed' : 'master key rotation finished with failures')
    this.opts.audit.record({
      type: ok ? 'keys.rotation.completed' : 'keys.rotation.failed',
      outcome: ok ? 'success' : 'failure',
      ...(ok ? {} : { reason: 'INTERNAL' as const }),
      actor: { kind: 'system' },
      details: jobDetails(finished),
    })
  }

  private async beat(): Promise<void> {
    try {
      await this.opts.store.update('keyRotations', GLOBAL_SCOPE, JOB_ID, (current) =>
        current?.state === 'running' && current.owner === this.opts.processId ? { ...current, heartbeatAt: this.now().toISOString() } : undefined)
    } catch (err) {
      this.opts.logger.warn({ err }, 'could not record the rotation heartbeat')
    }
  }

  private async write(record: KeyRotationRecord): Promise<void> {
    await this.opts.store.put('keyRotations', GLOBAL_SCOPE, JOB_ID, record)
  }
}

function dedupeRefs(refs: SealedRef[]): SealedRef[] {
  const seen = new Set<string>()
  return refs.filter((r) => {
    const key = `${r.collection}/${r.id}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

function jobDetails(job: KeyRotationRecord): { [key: string]: string | number } {
  return {
    targetKeyId: job.targetKeyId, total: job.total, done: job.done, failed: job.failed, resumed: job.resumed,
    startedAt: job.startedAt,
    ...(job.remaining !== undefined ? { remaining: job.remaining } : {}),
    ...(job.finishedAt !== undefined ? { finishedAt: job.finishedAt } : {}),
    ...(job.error !== undefined ? { error: job.error } : {}),
  }
}

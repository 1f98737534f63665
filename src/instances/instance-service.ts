import { PortcullisError } from '../errors'
import type { MasterKeyring } from '../auth/master-key'
import type { InstanceConfig } from '../config/schema'
import { GLOBAL_SCOPE } from '../store/records'
import type { Collection, InstanceOptions, InstanceRecord, Records } from '../store/records'
import type { Store } from '../store/store'
import {
  checkInstanceRules, createInstanceSchema, parseBackend, parseOrThrow, patchInstanceSchema, stripUndefined,
} from './instance-schema'
import { hasPlaintextSecrets, openInstanceSecrets, sealInstanceSecrets } from './instance-secrets'
import { instanceView, type InstanceView } from './instance-view'
import { removeInstanceAttachments } from '../accounts/attachments'

/**
 * Instances are the tenants (DESIGN §2): stored in collection `instances`, scope GLOBAL_SCOPE.
 * Every mutation answers `{before, after}` as public views (no password, no private key) so the
 * caller can write the admin audit event (DESIGN §3 "admin.<resource>.<action>, before/after").
 *
 * Hostnames are unique across instances (compared lower-case; `*.example.com` and
 * `a.example.com` may belong to different instances: the exact name wins, as in
 * InstanceDirectory). Writes that can change hostnames run under one store lock so two replicas
 * cannot both claim a name.
 *
 * Secrets at rest (instance-secrets.ts): with a keyring, the backend password and the server
 * private key are sealed here, at the one place records are written, so the store never holds
 * them in clear. `get`/`list` answer the stored (sealed) records; every change is computed on the
 * opened form and sealed again before the write.
 */
const LOCK = 'instances'

/** Per-instance collections and how to find a record's id in them (for delete). */
const CHILDREN: { [C in Collection]?: (record: Records[C]) => string } = {
  cas: (r) => r.id,
  devices: (r) => r.id,
  // ca/registration-codes.ts keeps one record per instance, id 'current'.
  registrationCodes: () => 'current',
  staticAccounts: (r) => r.accessKeyId,
}

export interface InstanceChange {
  before?: InstanceView
  after?: InstanceView
}

/** What an instance holds that a delete would cut off. */
export interface InstanceHoldings {
  activeCas: number
  activeDevices: number
}

export interface BootstrapResult {
  id: string
  action: 'create' | 'update' | 'unchanged'
  change: InstanceChange
}

export interface InstanceServiceOptions {
  /** Seals secrets at rest; without it they are stored as given (tests, pre-sealing stores). */
  keyring?: MasterKeyring
  now?: () => Date
}

export class InstanceService {
  private readonly keyring: MasterKeyring | undefined
  private readonly now: () => Date

  constructor(private readonly store: Store, options: InstanceServiceOptions = {}) {
    this.keyring = options.keyring
    this.now = options.now ?? (() => new Date())
  }

  /** The record with its secrets in clear (see openInstanceSecrets); for callers that need them. */
  open(record: InstanceRecord): InstanceRecord {
    return openInstanceSecrets(record, this.keyring)
  }

  async get(id: string): Promise<InstanceRecord> {
    const record = await this.store.get('instances', GLOBAL_SCOPE, id)
    if (record === undefined) throw new PortcullisError('NOT_FOUND', `instance ${id} does not exist`)
    return record
  }

  async list(): Promise<InstanceRecord[]> {
    const all = await this.store.list('instances', GLOBAL_SCOPE)
    return all.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** Exact hostname first, then a one-level wildcard (`*.example.com` covers `a.example.com`). */
  async findByHostname(hostname: string): Promise<InstanceRecord | undefined> {
    const name = hostname.toLowerCase()
    const all = await this.store.list('instances', GLOBAL_SCOPE)
    const exact = all.find((r) => r.hostnames.includes(name))
    if (exact !== undefined) return exact
    const dot = name.indexOf('.')
    if (dot <= 0) return undefined
    const wildcard = `*${name.slice(dot)}`
    return all.find((r) => r.hostnames.includes(wildcard))
  }

  async create(input: unknown): Promise<InstanceChange & { record: InstanceRecord }> {
    const parsed = parseOrThrow(createInstanceSchema, input, 'instance')
    const time = this.now().toISOString()
    const record: InstanceRecord = {
      id: parsed.id,
      protocol: parsed.protocol,
      hostnames: parsed.hostnames,
      backend: parseBackend(parsed.backend),
      accessType: parsed.accessType,
      options: parsed.options,
      authorization: parsed.authorization,
      createdAt: time,
      updatedAt: time,
    }
    if (parsed.vpcId !== undefined) record.vpcId = parsed.vpcId
    if (parsed.serverCertificate !== undefined) record.serverCertificate = parsed.serverCertificate
    checkInstanceRules(record)
    return this.store.withLock(LOCK, async () => {
      if ((await this.store.get('instances', GLOBAL_SCOPE, record.id)) !== undefined) {
        throw new PortcullisError('ALREADY_EXISTS', `instance ${record.id} already exists`)
      }
      await this.assertHostnamesFree(record)
      // A delete interrupted after removing the instance may have left children behind; a new
      // instance of the same id must not inherit its predecessor's CAs or devices.
      await this.deleteChildren(record.id)
      const stored = sealInstanceSecrets(record, this.keyring)
      await this.store.create('instances', GLOBAL_SCOPE, record.id, stored)
      return { after: instanceView(stored), record: stored }
    })
  }

  async patch(id: string, input: unknown): Promise<InstanceChange & { record: InstanceRecord }> {
    const patch = parseOrThrow(patchInstanceSchema, input, 'instance patch')
    return this.store.withLock(LOCK, async () => {
      const stored = await this.get(id)
      const current = this.open(stored)
      const next: InstanceRecord = { ...current, updatedAt: this.now().toISOString() }
      if (patch.accessType !== undefined) next.accessType = patch.accessType
      if (patch.vpcId === null) delete next.vpcId
      else if (patch.vpcId !== undefined) next.vpcId = patch.vpcId
      if (patch.hostnames !== undefined) next.hostnames = patch.hostnames
      if (patch.backend !== undefined) next.backend = parseBackend(mergePatch(current.backend, patch.backend))
      if (patch.options !== undefined) next.options = { ...current.options, ...(stripUndefined(patch.options) as Partial<InstanceOptions>) }
      if (patch.authorization !== undefined) next.authorization = patch.authorization
      if (patch.serverCertificate === null) delete next.serverCertificate
      else if (patch.serverCertificate !== undefined) next.serverCertificate = patch.serverCertificate
      checkInstanceRules(next)
      await this.assertHostnamesFree(next)
      const written = sealInstanceSecrets(next, this.keyring)
      await this.store.put('instances', GLOBAL_SCOPE, id, written)
      return { before: instanceView(stored), after: instanceView(written), record: written }
    })
  }

  /**
   * Deletes the instance, then its CAs, devices, registration code and static accounts. Like a CA
   * with ACTIVE devices (DESIGN §1), an instance that still holds ACTIVE CA or device certificates
   * is refused INSTANCE_IN_USE naming what it holds, unless `force` is set: deleting it would cut
   * off devices an operator may not know are still in use. Answers what was held, for the audit.
   */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<InstanceChange & { held: InstanceHoldings; forced: boolean }> {
    const { before, held } = await this.store.withLock(LOCK, async () => {
      const current = await this.get(id)
      const holdings = await this.holdings(id)
      if (!opts.force && (holdings.activeCas > 0 || holdings.activeDevices > 0)) {
        throw new PortcullisError('INSTANCE_IN_USE',
          `instance ${id} still holds ${holdings.activeCas} ACTIVE CA certificate(s) and ${holdings.activeDevices} ACTIVE device certificate(s); ` +
          'deactivate them first, or delete with force=true (CLI: --force)')
      }
      // The instance goes first: from then on no connection can reach it, so nothing can
      // auto-register a device under it while its children are being removed.
      await this.store.delete('instances', GLOBAL_SCOPE, id)
      return { before: current, held: holdings }
    })
    await this.deleteChildren(id)
    const forced = held.activeCas > 0 || held.activeDevices > 0
    return { before: instanceView(before), held, forced }
  }

  /** How many ACTIVE CA and device certificates the instance holds. */
  async holdings(id: string): Promise<InstanceHoldings> {
    const [cas, devices] = await Promise.all([this.store.list('cas', id), this.store.list('devices', id)])
    return {
      activeCas: cas.filter((c) => c.status === 'ACTIVE').length,
      activeDevices: devices.filter((d) => d.status === 'ACTIVE').length,
    }
  }

  /**
   * Declarative bootstrap from config `instances[]` (DESIGN §3): missing instances are created,
   * changed ones updated to what the config says; instances created through the API are left alone.
   * Fields the config does not hold (serverCertificate) are kept. Config passwords are sealed like
   * any other, and compared in clear, so an unchanged config writes nothing. Each result carries
   * public before/after views: the caller records `admin.instance.create|update` with actor system.
   */
  async bootstrap(instances: readonly InstanceConfig[]): Promise<BootstrapResult[]> {
    const results: BootstrapResult[] = []
    for (const wanted of instances) {
      const stored = await this.store.get('instances', GLOBAL_SCOPE, wanted.id)
      if (stored === undefined) {
        const { after } = await this.create(toPlain(wanted))
        results.push({ id: wanted.id, action: 'create', change: after === undefined ? {} : { after } })
        continue
      }
      const existing = this.open(stored)
      const parsed = parseOrThrow(createInstanceSchema, toPlain(wanted), `instance ${wanted.id} in the configuration`)
      const desired: InstanceRecord = {
        ...existing,
        protocol: parsed.protocol,
        hostnames: parsed.hostnames,
        backend: parseBackend(parsed.backend),
        accessType: parsed.accessType,
        options: parsed.options,
        authorization: parsed.authorization,
      }
      if (parsed.vpcId === undefined) delete desired.vpcId
      else desired.vpcId = parsed.vpcId
      // A store written without a keyring is sealed on the first start that has one.
      if (sameConfig(existing, desired) && !(this.keyring !== undefined && hasPlaintextSecrets(stored))) {
        results.push({ id: wanted.id, action: 'unchanged', change: {} })
        continue
      }
      desired.updatedAt = this.now().toISOString()
      checkInstanceRules(desired)
      const change = await this.store.withLock(LOCK, async () => {
        await this.assertHostnamesFree(desired)
        const written = sealInstanceSecrets(desired, this.keyring)
        await this.store.put('instances', GLOBAL_SCOPE, desired.id, written)
        return { before: instanceView(stored), after: instanceView(written) }
      })
      results.push({ id: wanted.id, action: 'update', change })
    }
    return results
  }

  /**
   * Seals the secrets of instances stored in clear (written before a keyring was configured).
   * Re-wrapping under a newer master key is `keys rotate`'s (src/keys/key-rotation.ts), which does
   * it in batches, resumably and audited. Answers how many records were rewritten.
   */
  async sealPlaintext(): Promise<number> {
    const keyring = this.keyring
    if (keyring === undefined) return 0
    let count = 0
    for (const record of await this.store.list('instances', GLOBAL_SCOPE)) {
      if (!hasPlaintextSecrets(record)) continue
      let rewritten = false
      await this.store.update('instances', GLOBAL_SCOPE, record.id, (current) => {
        rewritten = current !== undefined && hasPlaintextSecrets(current)
        return rewritten && current !== undefined ? sealInstanceSecrets(openInstanceSecrets(current, keyring), keyring) : undefined
      })
      if (rewritten) count++
    }
    return count
  }

  private async assertHostnamesFree(record: InstanceRecord): Promise<void> {
    const mine = new Set(record.hostnames)
    for (const other of await this.store.list('instances', GLOBAL_SCOPE)) {
      if (other.id === record.id) continue
      const clash = other.hostnames.find((h) => mine.has(h))
      if (clash !== undefined) throw new PortcullisError('ALREADY_EXISTS', `hostname ${clash} already belongs to instance ${other.id}`)
    }
  }

  private async deleteChildren(instanceId: string): Promise<void> {
    for (const [collection, idOf] of Object.entries(CHILDREN) as Array<[Collection, (r: Records[Collection]) => string]>) {
      for (const record of await this.store.list(collection, instanceId)) {
        await this.store.delete(collection, instanceId, idOf(record))
      }
    }
    // Blacklist entries live in the global scope; those scoped to this instance go with it, so
    // that a later instance of the same id does not inherit them.
    for (const entry of await this.store.list('blacklist', GLOBAL_SCOPE)) {
      if (entry.instanceId === instanceId) await this.store.delete('blacklist', GLOBAL_SCOPE, entry.id)
    }
    // Likewise its policy attachments (instance:, ca: and device: principals of this instance):
    // a later instance of the same id starts with no grants.
    await removeInstanceAttachments(this.store, instanceId)
  }
}

/** RFC 7386 merge patch, one level deep is all a backend needs (tls is replaced as a whole). */
function mergePatch(target: object, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = value
  }
  return out
}

/** Frozen config objects → plain mutable JSON (the record must not share frozen parts). */
function toPlain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

const CONFIG_FIELDS = ['protocol', 'hostnames', 'backend', 'accessType', 'vpcId', 'options', 'authorization'] as const

function sameConfig(a: InstanceRecord, b: InstanceRecord): boolean {
  return CONFIG_FIELDS.every((key) => stableJson(a[key]) === stableJson(b[key]))
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  ) ?? 'undefined'
}

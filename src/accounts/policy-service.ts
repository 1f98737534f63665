/**
 * Policies and their attachments (DESIGN §4): collection `policies` (scope GLOBAL_SCOPE, id = the
 * name) and `policyAttachments` (scope = the policy name, id = the principal string).
 *
 * - `put` creates or replaces a document, validated by parsePolicyDocument (the same rules the
 *   evaluator relies on); `version` counts the PUTs.
 * - `delete` is refused with POLICY_ATTACHED while any principal holds the policy: deleting it
 *   would silently take grants away (or, for a Deny, give them) to principals nobody looked at.
 * - `attach` checks that the principal exists (principals.ts); attaching twice answers the first
 *   attachment (`created: false`), not a second record.
 *
 * Locks (locks.ts): the policy's lock around every write of it or its attachments, so a delete
 * sees every attach that happened before it; inside it, the principal's own lock while it is
 * checked and the attachment written, so an account or AccessKey deleted meanwhile either sees the
 * attachment (and removes it with itself) or is already gone (and the attach answers NOT_FOUND).
 */
import { accessKeyLock } from '../auth/access-keys'
import { PortcullisError } from '../errors'
import { parsePolicyDocument, policyDocumentFromRecord, POLICY_NAME } from '../policy/authorization/document'
import type { PolicyDocument } from '../policy/authorization/types'
import { GLOBAL_SCOPE, type PolicyAttachmentRecord, type PolicyRecord } from '../store/records'
import type { Store } from '../store/store'
import type { AccountService } from './account-service'
import { policiesAttachedTo, removeAttachmentsOf } from './attachments'
import { ACCOUNTS_LOCK, policyLock } from './locks'
import { assertPrincipalExists, formatPrincipal, parsePrincipal, type ParsedPrincipal } from './principals'

export interface PolicyView {
  name: string
  statements: PolicyRecord['statements']
  version: number
  createdAt: string
  updatedAt: string
}

export interface AttachmentView {
  policy: string
  principal: string
  createdAt: string
}

export interface PolicyServiceOptions {
  now?: () => Date
}

export function policyView(record: PolicyRecord): PolicyView {
  return { name: record.name, statements: record.statements, version: record.version, createdAt: record.createdAt, updatedAt: record.updatedAt }
}

function attachmentView(record: PolicyAttachmentRecord): AttachmentView {
  return { policy: record.policy, principal: record.principal, createdAt: record.createdAt }
}

function notFound(name: string): PortcullisError {
  return new PortcullisError('NOT_FOUND', `policy ${name} does not exist`)
}

export class PolicyService {
  private readonly now: () => Date

  constructor(private readonly store: Store, private readonly accounts: Pick<AccountService, 'find'>, opts: PolicyServiceOptions = {}) {
    this.now = opts.now ?? (() => new Date())
  }

  /** Creates or replaces; `input` is the request body as received (`{statements}`). */
  async put(name: string, input: unknown): Promise<{ created: boolean; before?: PolicyView; after: PolicyView }> {
    // Validates the name too (POLICY_NAME: safe as a store scope, a URL segment and a resource).
    const document = parsePolicyDocument(name, input)
    return this.store.withLock(policyLock(name), async () => {
      const time = this.now().toISOString()
      let before: PolicyRecord | undefined
      const written = await this.store.update('policies', GLOBAL_SCOPE, name, (current) => {
        before = current
        return {
          name,
          statements: document.statements.map((s) => ({ effect: s.effect, actions: [...s.actions], resources: [...s.resources] })),
          version: (current?.version ?? 0) + 1,
          createdAt: current?.createdAt ?? time,
          updatedAt: time,
        }
      })
      if (written === undefined) throw new PortcullisError('INTERNAL', `policy ${name} was not written`)
      return { created: before === undefined, ...(before !== undefined ? { before: policyView(before) } : {}), after: policyView(written) }
    })
  }

  async list(): Promise<PolicyView[]> {
    const all = await this.store.list('policies', GLOBAL_SCOPE)
    return all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(policyView)
  }

  async get(name: string): Promise<PolicyView> {
    return policyView(await this.record(name))
  }

  async delete(name: string): Promise<{ before: PolicyView }> {
    return this.store.withLock(policyLock(name), async () => {
      const record = await this.record(name)
      const attached = await this.store.list('policyAttachments', name)
      if (attached.length > 0) {
        const some = attached.slice(0, 3).map((a) => a.principal).join(', ')
        throw new PortcullisError('POLICY_ATTACHED', `policy ${name} is attached to ${attached.length} principal(s) (${some}${attached.length > 3 ? ', …' : ''}); detach it first`)
      }
      await this.store.delete('policies', GLOBAL_SCOPE, name)
      return { before: policyView(record) }
    })
  }

  /** Attaches; `created: false` when the principal already held the policy (nothing written). */
  async attach(name: string, principalInput: unknown): Promise<{ created: boolean; attachment: AttachmentView }> {
    const parsed = parsePrincipal(principalInput)
    const principal = formatPrincipal(parsed)
    return this.store.withLock(policyLock(name), async () => {
      await this.record(name)
      const existing = await this.store.get('policyAttachments', name, principal)
      if (existing !== undefined) return { created: false, attachment: attachmentView(existing) }
      return this.underPrincipalLock(parsed, async () => {
        await assertPrincipalExists(this.store, this.accounts, parsed)
        const record: PolicyAttachmentRecord = { policy: name, principal, createdAt: this.now().toISOString() }
        await this.store.create('policyAttachments', name, principal, record)
        return { created: true, attachment: attachmentView(record) }
      })
    })
  }

  async detach(name: string, principal: string): Promise<{ before: AttachmentView }> {
    return this.store.withLock(policyLock(name), async () => {
      await this.record(name)
      const removed = await this.store.take('policyAttachments', name, principal)
      if (removed === undefined) throw new PortcullisError('NOT_FOUND', `policy ${name} is not attached to ${principal}`)
      return { before: attachmentView(removed) }
    })
  }

  /** The policy's attachments, by principal. */
  async attachments(name: string): Promise<AttachmentView[]> {
    await this.record(name)
    const all = await this.store.list('policyAttachments', name)
    return all.sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0)).map(attachmentView)
  }

  /** Removes every attachment of a principal that is gone (an AccessKey after its delete); answers the policies. */
  detachEverywhere(principal: string): Promise<string[]> {
    return removeAttachmentsOf(this.store, principal)
  }

  /**
   * The documents attached to any of `principals`, read from the store now (never cached: an
   * admin decision must not act on a grant that was just taken away). A policy deleted between
   * the two reads is skipped: it grants nothing any more.
   */
  async documentsFor(principals: readonly string[]): Promise<PolicyDocument[]> {
    const names = await policiesAttachedTo(this.store, principals)
    const records = await Promise.all(names.map((n) => this.store.get('policies', GLOBAL_SCOPE, n)))
    return records.filter((r): r is PolicyRecord => r !== undefined).map(policyDocumentFromRecord)
  }

  private async record(name: string): Promise<PolicyRecord> {
    if (!POLICY_NAME.test(name)) throw notFound(name)
    const record = await this.store.get('policies', GLOBAL_SCOPE, name)
    if (record === undefined) throw notFound(name)
    return record
  }

  private underPrincipalLock<T>(p: ParsedPrincipal, fn: () => Promise<T>): Promise<T> {
    if (p.kind === 'account') return this.store.withLock(ACCOUNTS_LOCK, fn)
    if (p.kind === 'accessKey') return this.store.withLock(accessKeyLock(p.accessKeyId), fn)
    return fn()
  }
}

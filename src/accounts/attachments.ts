/**
 * Reading and removing policy attachments across policies (collection `policyAttachments`,
 * scope = policy name, id = principal string). Lookups by principal visit every policy that has
 * an attachment: admin calls are rare, and an index kept beside the records could drift from them.
 */
import type { Store } from '../store/store'

/** Names of the policies attached to any of `principals`, sorted, each once. */
export async function policiesAttachedTo(store: Store, principals: readonly string[]): Promise<string[]> {
  const policies = await store.scopes('policyAttachments')
  const hits = await Promise.all(policies.map(async (policy) => {
    const found = await Promise.all(principals.map((p) => store.get('policyAttachments', policy, p)))
    return found.some((a) => a !== undefined) ? policy : undefined
  }))
  return hits.filter((p): p is string => p !== undefined).sort()
}

/** Removes every attachment of `principal` (its account or AccessKey is gone); answers the policies it left. */
export async function removeAttachmentsOf(store: Store, principal: string): Promise<string[]> {
  const detached: string[] = []
  for (const policy of await store.scopes('policyAttachments')) {
    if (await store.delete('policyAttachments', policy, principal)) detached.push(policy)
  }
  return detached.sort()
}

/**
 * Removes the attachments of an instance that is being deleted: `instance:<id>` and every
 * `ca:<id>/…` and `device:<id>/…`. Without it, an instance later created with the same id would
 * inherit grants made for the old one. Answers the removed principals, by policy.
 */
export async function removeInstanceAttachments(store: Store, instanceId: string): Promise<Array<{ policy: string; principal: string }>> {
  const exact = `instance:${instanceId}`
  const prefixes = [`ca:${instanceId}/`, `device:${instanceId}/`]
  const removed: Array<{ policy: string; principal: string }> = []
  for (const policy of await store.scopes('policyAttachments')) {
    for (const { principal } of await store.list('policyAttachments', policy)) {
      if (principal !== exact && !prefixes.some((p) => principal.startsWith(p))) continue
      if (await store.delete('policyAttachments', policy, principal)) removed.push({ policy, principal })
    }
  }
  return removed
}

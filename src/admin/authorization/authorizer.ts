import { ROOT_ACCOUNT_ID } from '../../accounts/account-ids'
import { principalsOfAdminKey } from '../../accounts/admin-principals'
import type { PolicyService } from '../../accounts/policy-service'
import { compilePolicies } from '../../policy/authorization/compile'
import type { AdminAction, Decision } from '../../policy/authorization/types'
import type { Store } from '../../store/store'

/** The AccessKey that signed an admin request, once it was allowed. */
export interface AdminCaller {
  readonly accessKeyId: string
  readonly accountId: string
  /** The root bootstrap key or a key of the `root` account: granted everything. */
  readonly root: boolean
}

export type AdminVerdict =
  | { readonly allowed: true; readonly caller: AdminCaller; readonly decision?: Decision }
  | { readonly allowed: false; readonly decision?: Decision }

/** Decides one admin request of a key whose signature verified. */
export type AdminAuthorizer = (accessKeyId: string, action: AdminAction, resource: string) => Promise<AdminVerdict>

export interface AdminAuthorizerDeps {
  /** The root bootstrap key (DESIGN §3): not stored, always granted everything. */
  rootAccessKeyId: string
  store: Store
  policies: Pick<PolicyService, 'documentsFor'>
}

/**
 * DESIGN §4: the root bootstrap key and every AccessKey of the `root` account are granted
 * everything; any other key gets what the policies attached to `accessKey:<id>` and
 * `account:<its account>` allow (an explicit Deny wins, no matching Allow denies) with the
 * variable `${accessKeyId}`, on the compiled form: its matcher is linear in the resource, which
 * comes from the request path, where the reference evaluator's regular expressions could be made
 * to backtrack.
 *
 * Everything is read from the store on every call, never cached: admin calls are rare, and one
 * must never act on a grant that was just revoked (on this replica or another). A key that is no
 * longer stored by the time it is decided is granted nothing.
 */
export function adminAuthorizer(deps: AdminAuthorizerDeps): AdminAuthorizer {
  return async (accessKeyId, action, resource) => {
    if (accessKeyId === deps.rootAccessKeyId) return { allowed: true, caller: { accessKeyId, accountId: ROOT_ACCOUNT_ID, root: true } }
    const who = await principalsOfAdminKey(deps.store, accessKeyId)
    if (who === undefined) return { allowed: false }
    if (who.accountId === ROOT_ACCOUNT_ID) return { allowed: true, caller: { accessKeyId, accountId: ROOT_ACCOUNT_ID, root: true } }
    const documents = await deps.policies.documentsFor(who.principals)
    const decision = compilePolicies(documents).decide(action, resource, { accessKeyId })
    return decision.allowed
      ? { allowed: true, caller: { accessKeyId, accountId: who.accountId, root: false }, decision }
      : { allowed: false, decision }
  }
}

import type { FastifyRequest } from 'fastify'
import { PortcullisError } from '../../errors'
import type { AdminContext } from '../context'

/**
 * Escalation guard (DESIGN §4): a key outside the `root` account may create AccessKeys and
 * accounts only inside its own account's subtree (the account itself or its descendants).
 * Without it, a key granted admin:CreateAccessKey could mint a key of `root`, which is granted
 * everything, and so grant itself everything. Policies decide whether the action is allowed at
 * all; this decides where its result may land. An unknown target account is refused the same
 * way (403, not 404), so the guard does not tell a caller which accounts exist outside its tree.
 */
export async function assertWithinCallerTree(ctx: Pick<AdminContext, 'accounts'>, req: FastifyRequest, accountId: string, what: string): Promise<void> {
  const caller = req.adminCaller
  if (caller === undefined) throw new PortcullisError('ACCESS_DENIED', 'the request was not authorized')
  if (caller.root) return
  if (await ctx.accounts.isWithin(accountId, caller.accountId)) return
  throw new PortcullisError('ACCESS_DENIED', `AccessKey ${caller.accessKeyId} of account ${caller.accountId} may not create ${what} in account ${accountId}: only in its own account and its sub-accounts`)
}

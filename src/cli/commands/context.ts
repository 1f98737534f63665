import { AdminClient } from '../admin-client'
import { resolveAdminTarget } from '../admin-target'
import type { CommandContext } from '../spec'

export type { CommandContext, LeafSpec, Parsed, Run } from '../spec'

/** A signed client for the endpoint and key this invocation resolves to. */
export async function adminClient(ctx: CommandContext): Promise<AdminClient> {
  return new AdminClient(await resolveAdminTarget(ctx.io, ctx.global.config, ctx.global.adminUrl))
}

/** Path segment from user input: ids are encoded so that `/` or `?` cannot change the route. */
export function seg(value: string): string {
  return encodeURIComponent(value)
}

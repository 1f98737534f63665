import { AdminClient } from '../admin-client'
import { resolveAdminTarget } from '../admin-target'
import { str, type Parsed } from '../args'
import type { CliIo } from '../io'

export interface CommandContext {
  io: CliIo
}

/** A signed client for the endpoint and key this invocation resolves to. */
export async function adminClient(ctx: CommandContext, parsed: Parsed): Promise<AdminClient> {
  return new AdminClient(await resolveAdminTarget(ctx.io, str(parsed, 'config')))
}

export type Subcommand = (ctx: CommandContext, args: string[]) => Promise<number>

/** Path segment from user input: ids are encoded so that `/` or `?` cannot change the route. */
export function seg(value: string): string {
  return encodeURIComponent(value)
}

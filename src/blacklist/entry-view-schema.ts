import { z } from 'zod'
import { BLACKLIST_KINDS } from './blacklist-entry'

/**
 * A BlacklistEntryView (blacklist-entry.ts) as the admin API answers it: the response schema of
 * the blacklist routes in /openapi.json. src/admin/openapi/view-checks.ts checks at compile time
 * that it describes the view.
 */
export const blacklistEntryViewSchema = z.object({
  id: z.string(),
  kind: z.enum(BLACKLIST_KINDS),
  value: z.string().describe('in its canonical form: an ip as Node prints it, a certFingerprint as 64 lowercase hex digits'),
  instanceId: z.string().optional().describe('absent: the entry applies on every instance'),
  reason: z.string().optional(),
  actor: z.string().optional().describe('the AccessKey that added it'),
  expiresAt: z.iso.datetime().optional(),
  createdAt: z.iso.datetime(),
  expired: z.boolean().describe('the entry has stopped applying (listed only with includeExpired=true)'),
}).meta({ title: 'BlacklistEntry' })

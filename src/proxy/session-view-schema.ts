import { z } from 'zod'
import { PROTOCOL_NAMES } from '../protocols/names'

/**
 * A live session's SessionView (session-registry.ts) as `GET /v1/connections` answers it: the
 * response schema in /openapi.json. Which identity fields are present depends on the protocol and
 * on how the client authenticated. src/admin/openapi/view-checks.ts checks at compile time that it
 * describes SessionView.
 */
export const sessionViewSchema = z.object({
  connId: z.string().describe('what `DELETE /v1/connections/{connId}` kicks'),
  instanceId: z.string(),
  protocol: z.enum(PROTOCOL_NAMES),
  listener: z.string(),
  startedAt: z.iso.datetime(),
  processId: z.string().describe('the gateway process (replica or worker) holding the session'),
  sourceIp: z.string(),
  sourcePort: z.number().int(),
  vpcId: z.string().optional(),
  enforced: z.literal(true).optional().describe('spliced through the authorization filters'),
  caId: z.string().optional(),
  deviceId: z.string().optional(),
  certCommonName: z.string().optional(),
  clientId: z.string().optional(),
  username: z.string().optional(),
  accessKeyId: z.string().optional(),
  account: z.string().optional(),
  accountId: z.string().optional(),
  vhost: z.string().optional(),
  credentialExpiresAt: z.iso.datetime().optional(),
}).meta({ title: 'Connection' })

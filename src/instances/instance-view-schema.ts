import { z } from 'zod'
import { backendSchema, instanceOptionsSchema } from '../config/schema'
import { PROTOCOL_NAMES } from '../protocols/names'

/**
 * The shape of an InstanceView (instance-view.ts) as the admin API answers it: the response schema
 * of the instance routes in /openapi.json. Built from the config schema's own backend and options
 * pieces, so the API's answer and the YAML name a backend the same way; the backend password is
 * replaced by `passwordSet`, the server private key by `privateKeySet` (DESIGN §1: secrets never
 * leave). src/admin/openapi/view-checks.ts checks at compile time that it describes InstanceView.
 */
export const instanceViewSchema = z.object({
  id: z.string(),
  protocol: z.enum(PROTOCOL_NAMES),
  hostnames: z.array(z.string()).describe('SNI names the instance is reached by (lowercase; `*.` covers one level)'),
  backend: backendSchema.omit({ password: true }).extend({
    passwordSet: z.boolean().describe('whether a backend password is stored (sealed); the password itself is never answered'),
  }),
  accessType: z.enum(['ANY_TUNNEL', 'SINGLE_TUNNEL']),
  vpcId: z.string().optional(),
  options: instanceOptionsSchema,
  authorization: z.object({ mode: z.enum(['off', 'enforce']) }).optional(),
  serverCertificate: z.object({ certificate: z.string(), privateKeySet: z.literal(true) }).optional(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
}).meta({ title: 'Instance' })

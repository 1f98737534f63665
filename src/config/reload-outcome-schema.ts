import { z } from 'zod'

/**
 * What `POST /v1/config/reload` answers when the reload succeeded (src/admin/routes/config.ts,
 * from reload.ts ReloadOutcome and diff.ts ConfigChange): the response schema in /openapi.json.
 * src/admin/openapi/view-checks.ts checks at compile time that the pieces describe those types.
 */
export const configChangeSchema = z.object({
  path: z.string().describe('e.g. listeners[mqtts].port, instances[prod].backend.password'),
  kind: z.enum(['added', 'removed', 'changed']),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
  redacted: z.literal(true).optional().describe('a secret changed: its values are not shown'),
}).meta({ title: 'ConfigChange' })

export const reloadListenersSchema = z.record(z.string(), z.object({ address: z.string(), port: z.number().int() }))
  .describe('listener name → address after the reload')

export const reloadSuccessSchema = z.object({
  applied: z.array(z.string()).describe('config paths in force now'),
  restartNeeded: z.array(z.string()).describe('changed paths that apply only after a restart'),
  message: z.string().optional(),
  changes: z.array(configChangeSchema),
  listeners: reloadListenersSchema,
}).meta({ title: 'ConfigReload' })

import { z } from 'zod'

/**
 * What `GET /v1/keys` and `POST /v1/keys/rotate` answer (key-rotation.ts KeyStatus and the job's
 * KeyRotationRecord, store/records.ts): the response schemas in /openapi.json. Ids, providers and
 * counts only, never key material. src/admin/openapi/view-checks.ts checks at compile time that
 * each describes its type.
 */
export const keyRotationSchema = z.object({
  id: z.literal('current'),
  state: z.enum(['running', 'done', 'failed']),
  targetKeyId: z.string().describe('the master key every data key is being re-wrapped under'),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  remaining: z.number().int().optional().describe('secrets still under another key when the job ended'),
  startedAt: z.iso.datetime(),
  heartbeatAt: z.iso.datetime(),
  finishedAt: z.iso.datetime().optional(),
  owner: z.string().describe('the gateway process that runs it'),
  resumed: z.number().int(),
  error: z.string().optional(),
  requestedBy: z.string().optional().describe('the AccessKey that started it'),
}).meta({ title: 'KeyRotation' })

export const keyStatusSchema = z.object({
  currentKeyId: z.string(),
  keys: z.array(z.object({
    keyId: z.string(),
    loaded: z.boolean(),
    current: z.boolean(),
    provider: z.string().optional(),
    secrets: z.number().int().describe('stored secrets wrapped under this key: 0 (and not current) means it can be removed'),
  })),
  rotation: keyRotationSchema.nullable().describe('the last rotation job, null when there was none'),
}).meta({ title: 'KeyStatus' })
